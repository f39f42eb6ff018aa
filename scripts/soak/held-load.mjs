#!/usr/bin/env node
// Held load: the built demo app (`node dist/main.js`, a child process) at its connection limit
// (WS_MAX_CONNECTIONS = rooms × per-room, 1000 by default), 10 rooms of 100 users, every user
// sending cursor updates at --hz for --minutes. Counts errors (error frames, refused upgrades,
// unexpected closes) and lost / duplicated / reordered messages (per-sender sequence numbers,
// checked by every receiver), measures delivery latency (timestamp in the payload), and samples
// the server's heap and RSS (after GC) every --sample-s seconds.
//
//   node scripts/soak/held-load.mjs --minutes=3 --hz=0.1
//
// Flags: --minutes (3) --rooms (10) --per-room (100) --hz (0.1; the server spends ~30 µs of CPU per
//        delivery on the 2-core CI sandbox, so 1000 users × 0.1 Hz × 99 recipients ≈ 10k deliveries/s
//        ≈ 0.3 core; raise it on faster machines) --sample-s (10) --warmup-s (15)
//        --heap-margin-mb (16: heap growth from the first to the last sample after warm-up)
// Prints a Markdown summary; exits 1 on any error, loss, duplicate, reorder or heap growth.
import WebSocket from 'ws';
import { flags, mib, sleep, startServer } from './lib.mjs';

const opt = flags({ minutes: 3, rooms: 10, 'per-room': 100, hz: 0.1, 'sample-s': 10, 'warmup-s': 15, 'heap-margin-mb': 16 });
const N = opt.rooms * opt['per-room'];
const PER = opt['per-room'];

const errors = [];
const err = (what) => {
  if (errors.length < 20) console.error(`  error: ${what}`);
  errors.push(what);
};

const server = await startServer({
  WS_MAX_CONNECTIONS: String(N),
  WS_ROOM_CAPACITY: String(PER),
  WS_RATE_LIMIT_POINTS: '100000000',
});

// received[r * PER + k]: messages receiver r got from sender k of its room (in order so far).
const received = new Int32Array(N * PER);
const sent = new Int32Array(N);
let duplicates = 0;
let reordered = 0;
let gaps = 0;
let deliveries = 0;
const latency = new Uint32Array(10_001); // 1 ms buckets, the last one is ≥ 10 s
let measuring = false;
// Event-loop lag of this generator: if it is late, latency figures and pongs are its fault.
let maxLag = 0;
let lastTick = Date.now();
setInterval(() => {
  const now = Date.now();
  maxLag = Math.max(maxLag, now - lastTick - 200);
  lastTick = now;
}, 200).unref();
let stopping = false;

function percentile(p) {
  const total = latency.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let i = 0; i < latency.length; i++) {
    seen += latency[i];
    if (seen >= total * p) return i;
  }
  return latency.length - 1;
}

/** Opens client `i` (room i / PER, slot i % PER), waits for its presence_state. */
function open(i) {
  return new Promise((resolve, reject) => {
    const room = Math.floor(i / PER);
    const ws = new WebSocket(`${server.url}?token=${server.token({ sub: `u${i}`, tenantId: 'soak' })}`);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`client ${i} refused with ${res.statusCode}`)));
    ws.once('error', (e) => reject(e));
    ws.on('close', (code) => {
      if (!stopping) err(`client ${i} closed with ${code}`);
    });
    ws.on('error', (e) => {
      if (!stopping) err(`client ${i} socket error ${e.message}`);
    });
    ws.on('message', (raw) => {
      const s = raw.toString();
      if (s.startsWith('{"type":"message"')) {
        // data is [slot, seq, sentAt]: read it without JSON.parse (this process receives ~N × hz × PER frames/s).
        const at = s.lastIndexOf('"data":[');
        const [k, seq, ts] = s.slice(at + 8, s.length - 2).split(',').map(Number);
        const slot = i * PER + k;
        const expected = received[slot];
        if (seq === expected) received[slot] = expected + 1;
        else if (seq < expected) duplicates++;
        else {
          gaps++;
          reordered++;
          received[slot] = seq + 1;
        }
        deliveries++;
        if (measuring) latency[Math.min(10_000, Date.now() - ts)]++;
      } else if (s.startsWith('{"type":"error"')) err(`client ${i}: ${s}`);
      else if (s.startsWith('{"type":"presence_state"')) resolve(ws);
      else if (s.startsWith('{"type":"connection_ack"')) ws.send(JSON.stringify({ type: 'join', canvasId: `room${room}` }));
    });
  });
}

let exitCode = 1;
try {
  console.error(`held load: ${N} connections (${opt.rooms} rooms × ${PER}), ${opt.hz} Hz each, ${opt.minutes} min; server ${server.url}`);
  const t0 = Date.now();
  const clients = new Array(N);
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < N) {
        const i = next++;
        clients[i] = await open(i);
      }
    }),
  );
  const rampS = (Date.now() - t0) / 1000;
  console.error(`  ${N} connected and joined in ${rampS.toFixed(1)} s`);
  // The instance is at its limit: one more is refused with 503 SERVER_FULL.
  const extra = await new Promise((resolve) => {
    const ws = new WebSocket(`${server.url}?token=${server.token({ sub: 'extra', tenantId: 'soak' })}`);
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
    ws.once('open', () => (ws.terminate(), resolve(101)));
    ws.once('error', () => resolve(0));
  });
  if (extra !== 503) err(`connection ${N + 1} got ${extra}, expected 503 SERVER_FULL`);

  // Senders: a 50 ms tick; each client sends on one tick of every period (1000 / hz ms).
  const period = Math.max(1, Math.round(1000 / opt.hz / 50));
  let tick = 0;
  const sender = setInterval(() => {
    const phase = tick++ % period;
    for (let i = phase; i < N; i += period) {
      const ws = clients[i];
      if (ws.readyState !== WebSocket.OPEN) continue;
      ws.send(`{"type":"message","canvasId":"room${Math.floor(i / PER)}","data":[${i % PER},${sent[i]++},${Date.now()}]}`);
    }
  }, 50);

  await sleep(opt['warmup-s'] * 1000);
  measuring = true;
  const samples = [];
  const startedAt = Date.now();
  const cpuAtStart = server.cpuSeconds();
  const endAt = startedAt + opt.minutes * 60_000;
  while (Date.now() < endAt && !server.exited()) {
    const m = await server.mem();
    samples.push({ s: Math.round((Date.now() - startedAt) / 1000), heap: m.heapUsed, rss: m.rss, deliveries });
    console.error(`  t+${samples.at(-1).s}s server CPU ${((server.cpuSeconds() - cpuAtStart) / Math.max(1, (Date.now() - startedAt) / 1000)).toFixed(2)} core heap ${mib(m.heapUsed)} rss ${mib(m.rss)} deliveries ${deliveries} errors ${errors.length} generator lag max ${maxLag} ms`);
    maxLag = 0;
    await sleep(Math.min(opt['sample-s'] * 1000, Math.max(0, endAt - Date.now())));
  }
  measuring = false;
  clearInterval(sender);
  const durationS = (Date.now() - startedAt) / 1000;
  const serverCpuShare = (server.cpuSeconds() - cpuAtStart) / durationS;
  const measuredDeliveries = latency.reduce((a, b) => a + b, 0);
  await sleep(5000); // everything in flight arrives
  const last = await server.mem();
  samples.push({ s: Math.round((Date.now() - startedAt) / 1000), heap: last.heapUsed, rss: last.rss, deliveries });

  let lost = 0;
  let expectedDeliveries = 0;
  for (let r = 0; r < N; r++) {
    const base = Math.floor(r / PER) * PER;
    for (let k = 0; k < PER; k++) {
      if (base + k === r) continue;
      expectedDeliveries += sent[base + k];
      lost += sent[base + k] - received[r * PER + k];
    }
  }
  lost += gaps; // a gap counts as loss even if later messages arrived
  const totalSent = sent.reduce((a, b) => a + b, 0);
  const heapGrowth = samples.at(-1).heap - samples[0].heap;
  stopping = true;
  for (const ws of clients) ws.close(1000);
  await sleep(500);

  console.log('\n### Held load\n');
  console.log('| connections held | rooms × users | rate / user | duration (measured) | messages sent | deliveries | lost | dup / reordered | errors | latency p50 / p99 | server CPU | heap after GC (first → last) | RSS (first → last) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${N} (limit ${N}; #${N + 1} → ${extra}) | ${opt.rooms} × ${PER} | ${opt.hz} Hz | ${opt.minutes} min (${durationS.toFixed(0)} s) | ${totalSent} | ${deliveries} of ${expectedDeliveries} | ${lost} | ${duplicates} / ${reordered} | ${errors.length} | ${percentile(0.5)} / ${percentile(0.99)} ms | ${serverCpuShare.toFixed(2)} core (${Math.round(measuredDeliveries / durationS)} deliveries/s) | ${mib(samples[0].heap)} → ${mib(samples.at(-1).heap)} | ${mib(samples[0].rss)} → ${mib(samples.at(-1).rss)} |`,
  );
  console.log('\nServer memory samples (after GC):\n');
  console.log('| t (s) | heap | RSS | deliveries so far |');
  console.log('|---|---|---|---|');
  for (const s of samples) console.log(`| ${s.s} | ${mib(s.heap)} | ${mib(s.rss)} | ${s.deliveries} |`);
  const checks = [
    ['errors', errors.length === 0, `${errors.length}`],
    ['lost', lost === 0 && deliveries === expectedDeliveries, `${lost} (delivered ${deliveries} of ${expectedDeliveries})`],
    ['duplicates / reordered', duplicates === 0 && reordered === 0, `${duplicates} / ${reordered}`],
    ['heap growth', heapGrowth < opt['heap-margin-mb'] * 1024 * 1024, `${mib(heapGrowth)} (margin ${opt['heap-margin-mb']} MiB)`],
    ['server alive', !server.exited(), JSON.stringify(server.exited())],
  ];
  console.log('');
  for (const [name, ok, detail] of checks) console.log(`- ${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} catch (e) {
  console.error(`held load failed: ${e.message}\n${server.tail()}`);
} finally {
  await server.stop();
}
process.exit(exitCode);
