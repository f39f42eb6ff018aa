// storm: a reconnect storm after a drain. Layout storm-3 (lib/cluster.mjs):
// instances A, B, C on one Redis (ports[0..2]).
//  1. `clients` users connect to A and join rooms of `roomSize`; each keeps the
//     reconnectToken of its last connection_ack.
//  2. Reference: `freshConns` fresh connects (JWT, ack, join, presence_state)
//     fired at once at B and C (half each), in rooms of their own, the same
//     burst shape as the storm; server CPU of B+C over that window / connects.
//     Then they are closed and the instances left to settle.
//  3. The harness sends SIGTERM to A (it drains: close 1012 to every client).
//     Each client, on its close, reconnects at once to B or C (half each) with
//     `?reconnectToken=<its token>` and is done at a connection_ack with
//     `resumed: true`. Storm time = SIGTERM .. last resumed ack; server CPU of
//     B+C over that window / resumes; Redis CPU apart.
// A resume refused with a retryable answer (503) is retried up to 3 times
// after 50 ms; a 401 is final (the token is spent or unknown): counted, never hidden.
import { performance } from 'node:perf_hooks';
import { makeTokens } from './tokens.mjs';
import { mark, sampleServer, window } from './link.mjs';
import { openWire } from './wire.mjs';
import { connectAll, closeAll, sleep, waitFor } from './util.mjs';

export async function run({ ports, secret, params }) {
  const { clients: n, roomSize, freshConns, settleMs, maxStormMs } = params;
  if (!Array.isArray(ports) || ports.length < 3) throw new Error('storm: 3 instances expected');
  const [portA, ...rest] = ports;
  const portFor = (i) => rest[i % rest.length];

  // 1. Everyone on A.
  const clients = await connectAll('ws', portA, makeTokens(secret, n), (i) => `s${Math.floor(i / roomSize)}`, { concurrency: 50 });

  // 2. Fresh connects on B and C, one burst, measured.
  const freshTokens = makeTokens(secret, freshConns, 'f');
  const fresh = new Array(freshConns);
  let freshFailed = 0;
  const f0 = await mark('fresh-start');
  await Promise.all(freshTokens.map(async (token, i) => {
    try {
      fresh[i] = await openWire({ port: portFor(i), query: `token=${token}` });
      await fresh[i].join(`f${Math.floor(i / roomSize)}`);
    } catch { freshFailed++; }
  }));
  const f1 = await mark('fresh-end');
  closeAll(fresh);
  await sleep(settleMs);

  // 3. The storm.
  const closeCodes = {};
  let noToken = 0; let resumed = 0; let notResumed = 0; let failed = 0; let retries = 0; let lastDone = 0;
  const failures = {};
  const done = () => resumed + notResumed + failed;
  const resume = async (i, token, attempt = 0) => {
    try {
      const c = await openWire({ port: portFor(i), query: `reconnectToken=${encodeURIComponent(token)}` });
      if (c.ack.resumed === true) resumed++; else notResumed++;
      lastDone = performance.now();
      clients[i] = c;
    } catch (err) {
      const why = String(err.message).slice(0, 120);
      if (/ 503 /.test(why) && attempt < 3) { retries++; await sleep(50); return resume(i, token, attempt + 1); }
      failures[why] = (failures[why] ?? 0) + 1;
      failed++;
      lastDone = performance.now();
    }
  };
  clients.forEach((c, i) => {
    c.onClose = (code) => {
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      const token = c.ack?.reconnectToken;
      if (typeof token !== 'string' || token === '') { noToken++; failed++; return; }
      resume(i, token);
    };
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await sampleServer('signal', 'storm-start', { index: 0, signal: 'SIGTERM' });
  const allDone = await waitFor(() => done() >= n, maxStormMs, 5);
  const s1 = await mark('storm-end');
  closeAll(clients);

  return {
    clients: n,
    freshConns,
    freshOk: freshConns - freshFailed,
    freshFailed,
    freshWindow: window(f0, f1),
    closeCodes,
    noToken,
    resumed,
    notResumed,
    failed,
    failures,
    retries,
    stormCapped: !allDone,
    stormMs: (allDone ? lastDone : performance.now()) - t0,
    stormWallMs: s1.t - t0,
    ...window({ t: t0, cpu: c0 }, s1), // generator CPU share over the storm
  };
}
