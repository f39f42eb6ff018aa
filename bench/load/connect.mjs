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
import { passTurn, shares, slicedWindow, takeTurn } from './link.mjs';
import { closeAll, connectAll, sleep } from './util.mjs';
import { percentiles } from '../lib/stats.mjs';

export async function run({ protocol, port, secret, params }) {
  const { conns, concurrency, roomSize, warmupConns, settleMs, slices = 1 } = params;
  // Warm-up in a turn of its own (an interleaved run's other columns are quiet meanwhile).
  await takeTurn();
  if (warmupConns > 0) {
    const warm = await connectAll(protocol, port, makeTokens(secret, warmupConns, 'w'), (i) => `w${Math.floor(i / roomSize)}`, { concurrency });
    closeAll(warm);
    await sleep(settleMs);
  }
  await passTurn();
  const tokens = makeTokens(secret, conns);
  const clients = new Array(conns);
  const hs = new Float64Array(conns).fill(Number.NaN);
  const up = new Float64Array(conns).fill(Number.NaN);

  // The window in `slices` slices when the run is interleaved (one otherwise): each slice
  // connects its share of the clients, closed loop at `concurrency`, to the last handshake.
  const counts = shares(conns, slices);
  const res = { ok: 0, failed: 0, notStarted: 0, errors: {} };
  let first = 0;
  const deadline = Date.now() + 180_000;
  const w = await slicedWindow(counts.length, async (s) => {
    const offset = first;
    first += counts[s];
    const part = await pool(counts[s], concurrency, deadline, async (j) => {
      const i = offset + j;
      const t0 = performance.now();
      const c = await openClient(protocol, { port, token: tokens[i] });
      up[i] = performance.now() - t0;
      clients[i] = c;
      await c.join(`c${Math.floor(i / roomSize)}`);
      hs[i] = performance.now() - t0;
    });
    res.ok += part.ok;
    res.failed += part.failed;
    res.notStarted += part.notStarted;
    for (const [k, v] of Object.entries(part.errors)) res.errors[k] = (res.errors[k] ?? 0) + v;
  });

  // The clients close in a turn, so their closes never land in another column's slice.
  await takeTurn();
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
    ...w,
    handshakeMs: percentiles(ok, [50, 99]),
    handshakeMeanMs: ok.reduce((a, b) => a + b, 0) / (ok.length || 1),
    upgradeMs: percentiles(upOk, [50, 99]), // connect start .. connection_ack
    joinMs: percentiles(joinOk, [50, 99]), // connection_ack .. presence_state
  };
}
