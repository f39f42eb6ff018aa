// connect: N clients at bounded concurrency; each does WebSocket upgrade (JWT
// checked by the server) -> connection_ack -> join -> presence_state.
// Handshake time = start of connect .. presence_state (socket.io: join ack),
// also split at the connection_ack (upgrade phase / join phase) for latest.json.
// Closed loop: each of `concurrency` workers starts its next connect when the
// previous one got its presence_state, so the server runs at its limit and
// the handshake time is mostly queueing (mean ≈ concurrency / connections per s).
// Connections stay open until the end so closes never land in the window.
// Rooms of `roomSize` so presence fan-out per join is small and realistic.
// Warm-up: `warmupConns` connects (same shape, own users and rooms) run and
// close before the window, then `settleMs` of quiet, so the window measures a
// warm server's steady cost per connection and not the JIT compiling its code
// (a one-off of a process's first seconds: more code, more of it; the fanout
// scenarios warm up for the same reason). 0 = no warm-up (the first round's rule).
import { performance } from 'node:perf_hooks';
import { openClient } from './clients.mjs';
import { pool } from './pool.mjs';
import { makeTokens } from './tokens.mjs';
import { mark, window } from './link.mjs';
import { closeAll, connectAll, sleep } from './util.mjs';
import { percentiles } from '../lib/stats.mjs';

export async function run({ protocol, port, secret, params }) {
  const { conns, concurrency, roomSize, warmupConns, settleMs } = params;
  if (warmupConns > 0) {
    const warm = await connectAll(protocol, port, makeTokens(secret, warmupConns, 'w'), (i) => `w${Math.floor(i / roomSize)}`, { concurrency });
    closeAll(warm);
    await sleep(settleMs);
  }
  const tokens = makeTokens(secret, conns);
  const clients = new Array(conns);
  const hs = new Float64Array(conns).fill(Number.NaN);
  const up = new Float64Array(conns).fill(Number.NaN);

  const a = await mark('start');
  const res = await pool(conns, concurrency, Date.now() + 180_000, async (i) => {
    const t0 = performance.now();
    const c = await openClient(protocol, { port, token: tokens[i] });
    up[i] = performance.now() - t0;
    clients[i] = c;
    await c.join(`c${Math.floor(i / roomSize)}`);
    hs[i] = performance.now() - t0;
  });
  const b = await mark('end');

  closeAll(clients);
  const ok = hs.filter(Number.isFinite);
  const upOk = up.filter(Number.isFinite);
  const joinOk = hs.map((h, i) => h - up[i]).filter(Number.isFinite);
  return {
    conns,
    warmupConns,
    ok: res.ok,
    failed: res.failed + res.notStarted,
    errors: res.errors,
    ...window(a, b),
    handshakeMs: percentiles(ok, [50, 99]),
    handshakeMeanMs: ok.reduce((a, b) => a + b, 0) / (ok.length || 1),
    upgradeMs: percentiles(upOk, [50, 99]), // connect start .. connection_ack
    joinMs: percentiles(joinOk, [50, 99]), // connection_ack .. presence_state
  };
}
