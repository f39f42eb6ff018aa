#!/usr/bin/env node
// Churn soak: tens of thousands of connect → join → message → close cycles against the built
// demo app (`node dist/main.js`, a child process), then checks that the server went back to
// its baseline: JS heap and RSS after GC within a margin, no timer left behind, and every room
// empty (a fresh client joining each canvas sees only itself in presence_state).
//
//   node scripts/soak/churn.mjs --cycles=20000 --concurrency=50
//
// Flags: --cycles (20000) --concurrency (50) --canvases (50) --users (200) --warmup (500)
//        --heap-margin-mb (8: total growth) --slope-bytes (64: heap growth per cycle over the
//        second half, where warm-up effects are gone; a leak of a few hundred bytes per
//        connection fails it, GC noise does not) --rss-margin-mb (40) --ttl-ms (2000: reconnect
//        token TTL, so the away sessions of closed connections expire before each reading)
// Prints a Markdown summary; exits 1 on any error or growth beyond the margins.
import WebSocket from 'ws';
import { flags, mib, sleep, startServer } from './lib.mjs';

const opt = flags({ cycles: 20_000, concurrency: 50, canvases: 50, users: 200, warmup: 500, 'heap-margin-mb': 8, 'slope-bytes': 64, 'rss-margin-mb': 40, 'ttl-ms': 2000 });

const errors = [];
const err = (what) => {
  if (errors.length < 20) console.error(`  error: ${what}`);
  errors.push(what);
};

/** One cycle: upgrade → ack → join → presence_state → message → ping/pong → close 1000. */
function cycle(url, canvasId, i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let done = false;
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (why) {
        err(`cycle ${i}: ${why}`);
        ws.terminate();
      }
      resolve();
    };
    const timer = setTimeout(() => finish('timed out after 20 s'), 20_000);
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString());
      if (f.type === 'connection_ack') ws.send(JSON.stringify({ type: 'join', canvasId, id: 'j' }));
      else if (f.type === 'presence_state') {
        ws.send(JSON.stringify({ type: 'message', canvasId, data: { i, x: i % 1000, y: 7 } }));
        ws.send(JSON.stringify({ type: 'ping', id: 'p' }));
      } else if (f.type === 'pong') ws.close(1000);
      else if (f.type === 'error') finish(`error frame ${f.code}: ${f.message}`);
    });
    ws.once('unexpected-response', (_req, res) => finish(`upgrade refused with ${res.statusCode}`));
    ws.once('error', (e) => finish(`socket error ${e.message}`));
    ws.once('close', (code) => (code === 1000 || code === 1005 ? finish() : finish(`closed with ${code}`)));
  });
}

async function churn(server, urls, cycles, label) {
  let next = 0;
  let reported = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < cycles) {
      const i = next++;
      await cycle(urls[i % urls.length], `c${i % opt.canvases}`, i);
      if (label && next - reported >= cycles / 10) {
        reported = next;
        console.error(`  ${label}: ${next}/${cycles} (${Math.round(next / ((Date.now() - started) / 1000))} cycles/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: opt.concurrency }, worker));
  return Date.now() - started;
}

/** Every canvas is empty: a fresh client joining it is alone in presence_state. */
async function roomsEmpty(server) {
  const ws = new WebSocket(server.url + `?token=${server.token({ sub: 'inspector', tenantId: 'soak' })}`);
  await new Promise((r, j) => (ws.once('message', r), ws.once('error', j)));
  let leftovers = 0;
  for (let c = 0; c < opt.canvases; c++) {
    const state = await new Promise((resolve) => {
      const on = (raw) => {
        const f = JSON.parse(raw.toString());
        if (f.type === 'presence_state') {
          ws.off('message', on);
          resolve(f);
        }
      };
      ws.on('message', on);
      ws.send(JSON.stringify({ type: 'join', canvasId: `c${c}` }));
    });
    if (state.members.length !== 1 || state.members[0].userId !== 'inspector') {
      leftovers++;
      err(`canvas c${c} still has members: ${JSON.stringify(state.members)}`);
    }
  }
  ws.close();
  return leftovers;
}

const server = await startServer({
  WS_MAX_CONNECTIONS: String(opt.concurrency * 4 + 100),
  WS_RATE_LIMIT_POINTS: '100000000',
  WS_MESSAGE_RATE_LIMIT: '1000',
  WS_ROOM_CAPACITY: '1000',
  WS_RECONNECT_TOKEN_TTL_MS: String(opt['ttl-ms']),
  SOAK_TRACK_TIMERS: '1',
});
let exitCode = 1;
try {
  const urls = Array.from({ length: opt.users }, (_, u) => `${server.url}?token=${server.token({ sub: `u${u}`, tenantId: 'soak', name: `User ${u}` })}`);
  console.error(`churn soak: server on ${server.url}; warm-up ${opt.warmup} cycles`);
  await churn(server, urls, opt.warmup);
  await sleep(opt['ttl-ms'] + 1500);
  const before = await server.mem();
  const handlesBefore = await server.handles();
  const baseErrors = errors.length;

  const half = Math.floor(opt.cycles / 2);
  let ms = await churn(server, urls, half, 'churn (first half)');
  await sleep(opt['ttl-ms'] + 1500); // closed sessions expire; their timers fire
  const mid = await server.mem();
  ms += await churn(server, urls, opt.cycles - half, 'churn (second half)');
  await sleep(opt['ttl-ms'] + 1500);
  const after = await server.mem();
  const handlesAfter = await server.handles();
  const leftovers = await roomsEmpty(server);

  const heapGrowth = after.heapUsed - before.heapUsed;
  const slope = (after.heapUsed - mid.heapUsed) / (opt.cycles - half);
  const rssGrowth = after.rss - before.rss;
  const timerGrowth = handlesAfter.liveTimers - handlesBefore.liveTimers;
  const sockets = (h) => (h.resources.TCPSocketWrap ?? 0) + (h.resources.TCPWRAP ?? 0);
  const checks = [
    ['errors', errors.length - baseErrors === 0 && errors.length === 0, `${errors.length}`],
    ['heap growth', heapGrowth < opt['heap-margin-mb'] * 1024 * 1024, `${mib(heapGrowth)} (margin ${opt['heap-margin-mb']} MiB)`],
    ['heap slope (second half)', slope < opt['slope-bytes'], `${slope.toFixed(0)} B/cycle (${mib(mid.heapUsed)} → ${mib(after.heapUsed)}; bound ${opt['slope-bytes']} B/cycle)`],
    ['RSS growth', rssGrowth < opt['rss-margin-mb'] * 1024 * 1024, `${mib(rssGrowth)} (margin ${opt['rss-margin-mb']} MiB)`],
    ['live timers', timerGrowth <= 2, `${handlesBefore.liveTimers} → ${handlesAfter.liveTimers}`],
    ['open sockets', sockets(handlesAfter) <= sockets(handlesBefore), `${sockets(handlesBefore)} → ${sockets(handlesAfter)}`],
    ['rooms empty', leftovers === 0, `${opt.canvases - leftovers}/${opt.canvases} canvases empty`],
  ];
  console.log('\n### Churn soak\n');
  console.log('| cycles | concurrency | duration | cycles/s | heap after GC (before → half → after) | heap per cycle, 2nd half | RSS (before → after) | live timers | errors | rooms empty |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${opt.cycles} | ${opt.concurrency} | ${(ms / 1000).toFixed(1)} s | ${Math.round(opt.cycles / (ms / 1000))} | ${mib(before.heapUsed)} → ${mib(mid.heapUsed)} → ${mib(after.heapUsed)} | ${slope.toFixed(0)} B | ${mib(before.rss)} → ${mib(after.rss)} | ${handlesBefore.liveTimers} → ${handlesAfter.liveTimers} | ${errors.length} | ${leftovers === 0 ? 'yes' : 'NO'} |`,
  );
  console.log('');
  for (const [name, ok, detail] of checks) console.log(`- ${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} catch (e) {
  console.error(`churn soak failed: ${e.message}\n${server.tail()}`);
} finally {
  await server.stop();
}
process.exit(exitCode);
