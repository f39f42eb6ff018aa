// fanout-busy: a busy room at a fixed offered load (open loop). `users` members
// of one room; every `everyMs` the generator sends `burst` messages at once,
// from consecutive senders (round-robin), so they reach the server together
// and many frames meet in one of its event-loop turns (what the write batch and
// the corked floor are for). Unlike fanout-max (closed loop, as fast as the
// server answers), the load is the same for every target and set below what
// either side saturates, so server CPU per delivery compares like with like:
// issue 15 asks for "an offered load that neither side saturates".
//
// Every message must reach all users-1 others exactly once (no echo): the same
// bookkeeping as fanout-max (the message id `q` read from the frame's last
// bytes, no JSON.parse). A server that cannot keep up shows as a backlog:
// sends are skipped once `maxInFlight` messages are incomplete, and the run is
// flagged (lib/summarize.mjs), never silently measured at a lower load.
import { performance } from 'node:perf_hooks';
import { makeTokens } from './tokens.mjs';
import { lastInts } from './wire.mjs';
import { passTurn, sliceCount, slicedWindow, takeTurn } from './link.mjs';
import { connectAll, closeAll, sleep, waitFor } from './util.mjs';
import { percentiles } from '../lib/stats.mjs';

const ROOM = 'fanout-busy';
const RING = 1 << 16; // > maxInFlight: slot g & MASK is free again long before reuse
const MASK = RING - 1;
const LEAD_MS = 100;

export async function run({ protocol, port, secret, params }) {
  const { users: n, burst, everyMs, warmupSec, durationSec, sliceSec, drainMs } = params;
  const maxInFlight = Math.min(RING / 2, burst * 64);
  const clients = await connectAll(protocol, port, makeTokens(secret, n), () => ROOM);
  await sleep(300);

  const remaining = new Int32Array(RING);
  const sentAt = new Float64Array(RING);
  let g = 0; let inFlight = 0; let measuring = false;
  let delivered = 0; let completed = 0; let anomalies = 0; let skipped = 0; let maxLagMs = 0;
  const completionMs = [];

  const onDelivery = (q) => {
    if (measuring) delivered++;
    const slot = q & MASK;
    const left = --remaining[slot];
    if (left === 0) {
      inFlight--;
      if (measuring) { completed++; completionMs.push(performance.now() - sentAt[slot]); }
    } else if (left < 0) anomalies++; // duplicate or echo
  };
  const q = new Float64Array(1);
  for (const c of clients) c.onMessage = (buf, start, end) => { if (lastInts(buf, start, end, q)) onDelivery(q[0]); else anomalies++; };

  // Absolute schedule: a late tick does not push every later tick back. run() starts one (the
  // warm-up's or a slice's), halt() ends it.
  let stopped = true;
  let t0 = 0;
  let tick = 0;
  let timer = null;
  const sendBurst = () => {
    if (stopped) return;
    const now = performance.now();
    const lag = now - (t0 + tick * everyMs);
    if (measuring && lag > maxLagMs) maxLagMs = lag;
    for (let i = 0; i < burst; i++) {
      if (inFlight >= maxInFlight) { if (measuring) skipped++; continue; }
      const s = g % n;
      remaining[g & MASK] = n - 1;
      sentAt[g & MASK] = now;
      clients[s].send(ROOM, `{"s":${s},"q":${g}}`); // "q" last: see lastInts
      g++;
      inFlight++;
    }
    tick++;
    timer = setTimeout(sendBurst, Math.max(0, t0 + tick * everyMs - performance.now()));
  };
  const run = () => { stopped = false; t0 = performance.now(); tick = 0; sendBurst(); };
  const halt = () => { stopped = true; clearTimeout(timer); };
  // What has not completed by then counts as stalled.
  const settle = () => waitFor(() => inFlight === 0, drainMs);

  // Warm-up in a turn of its own (an interleaved run's other columns are quiet meanwhile).
  await takeTurn();
  run();
  await sleep(warmupSec * 1000);
  halt();
  await settle();
  await passTurn();

  // The measured phase, in `sliceSec` slices when the run is interleaved (one slice otherwise).
  // Each slice starts the schedule LEAD_MS before its start mark, so the window opens on a
  // steady load; `measuring` flips right before each mark, so the skews of the two flips cancel.
  const slices = sliceCount(durationSec, sliceSec);
  const w = await slicedWindow(slices, () => sleep((durationSec * 1000) / slices), {
    before: async () => { run(); await sleep(LEAD_MS); measuring = true; },
    after: async () => { halt(); await settle(); },
    beforeEnd: () => { measuring = false; },
  });

  // The clients close in a turn, so their closes never land in another column's slice.
  await takeTurn();
  closeAll(clients);
  return {
    users: n,
    burst,
    everyMs,
    offeredPerSec: (burst * (n - 1) * 1000) / everyMs,
    delivered,
    completed,
    skipped,
    maxInFlight,
    maxSendLagMs: maxLagMs,
    stalled: inFlight, // messages never completed: lost deliveries
    anomalies,
    completionMs: percentiles(completionMs, [50, 99]),
    ...w,
    deliveriesPerSec: delivered / (w.wallMs / 1000),
  };
}
