// fanout: `users` members of one room each send a cursor message at `rateHz`.
// Warm-up phase first (not counted), then a measured phase of exactly
// durationSec*rateHz messages per sender. Every payload carries the sender
// index `s`, a per-sender sequence `k` and a send timestamp `t` (this
// process's clock, so latency needs no clock sync). Each receiver checks,
// per sender: loss (never arrived), duplicates, reordering, and echo (the
// sender must never receive its own message).
// The cluster scenario runs this same load with `ports` (one per instance of a
// cluster): users are spread round-robin over the instances, so most
// deliveries cross Redis and the checks above cover the cross-instance path.
// The compression scenario runs it with hooks (see run()): another payload mix,
// another client, and work at the window's start/end (byte counters, churn).
import { performance } from 'node:perf_hooks';
import { makeTokens } from './tokens.mjs';
import { lastInts } from './wire.mjs';
import { passTurn, shares, sliceCount, slicedWindow, takeTurn } from './link.mjs';
import { connectAll, closeAll, sleep, waitFor } from './util.mjs';
import { percentiles } from '../lib/stats.mjs';

const ROOM = 'fanout';

/**
 * Each sender sends `count` messages, staggered so sends spread evenly over a
 * period. stats.maxLagMs records how late the generator got vs the schedule.
 */
const cursor = (i, j) => `"kind":"cursor","x":${(j * 7) % 1920},"y":${(i * 13) % 1080}`;

function sendPhase(clients, kStart, count, periodMs, stats, payload) {
  const n = clients.length;
  return new Promise((resolve) => {
    let done = 0;
    const t0 = performance.now() + 5;
    for (let i = 0; i < n; i++) {
      const offset = (i * periodMs) / n;
      let j = 0;
      const tick = () => {
        const now = performance.now();
        const lag = now - (t0 + offset + j * periodMs);
        if (lag > stats.maxLagMs) stats.maxLagMs = lag;
        // The payload's own fields, then the bookkeeping fields last (see lastInts).
        clients[i].send(ROOM, `{${payload(i, kStart + j)},"s":${i},"k":${kStart + j},"t":${Math.round(now * 1000)}}`);
        j++;
        if (j >= count) { if (++done === n) resolve(); return; }
        // Absolute schedule: a late tick does not push every later tick back.
        setTimeout(tick, Math.max(0, t0 + offset + j * periodMs - performance.now()));
      };
      setTimeout(tick, Math.max(0, t0 + offset - performance.now()));
    }
  });
}

/**
 * @param hooks optional: payload(i, k) -> the data fields before the bookkeeping
 *   ones (default: a cursor move); clientOpts for openClient; protocol override;
 *   onStart(clients) / onEnd(clients) -> extra result fields, called right
 *   after the window's start mark and right before its end mark.
 */
export async function run({ protocol, port, ports, secret, params }, hooks = {}) {
  const { users: n, rateHz, warmupSec, durationSec, sliceSec, drainMs, maxDrainMs } = params;
  const payload = hooks.payload ?? cursor;
  const period = 1000 / rateHz;
  const warmN = Math.max(1, Math.round(warmupSec * rateHz));
  const measN = Math.round(durationSec * rateHz);
  const expected = n * (n - 1) * measN;

  const clients = await connectAll(hooks.protocol ?? protocol, ports ?? port, makeTokens(secret, n), () => ROOM, { clientOpts: hooks.clientOpts });
  await sleep(300); // presence_join storm from set-up is over

  // Per (receiver, sender) bookkeeping in flat typed arrays: n*n*measN bytes.
  const seen = new Uint8Array(n * n * measN);
  const lastM = new Int32Array(n * n).fill(-1);
  const lat = new Float64Array(expected);
  let received = 0; let dup = 0; let reorder = 0; let echo = 0; let bad = 0;
  const ints = new Float64Array(3); // s, k, t of the frame at hand
  for (let r = 0; r < n; r++) {
    clients[r].onMessage = (buf, start, end) => {
      const now = performance.now();
      if (!lastInts(buf, start, end, ints) || ints[0] >= n) { bad++; return; }
      const s = ints[0];
      if (s === r) { echo++; return; }
      const m = ints[1] - warmN;
      if (m < 0) return; // warm-up traffic
      if (m >= measN) { bad++; return; }
      const pair = r * n + s;
      const idx = pair * measN + m;
      if (seen[idx]) { dup++; return; }
      seen[idx] = 1;
      if (m < lastM[pair]) reorder++; else lastM[pair] = m;
      lat[received++] = now - ints[2] / 1000;
    };
  }

  // Warm-up in a turn of its own (an interleaved run's other columns are quiet meanwhile).
  await takeTurn();
  await sendPhase(clients, 0, warmN, period, { maxLagMs: 0 }, payload);
  await sleep(Math.min(1000, period * 2)); // warm-up deliveries drain
  await passTurn();

  // The measured phase, in `sliceSec` slices when the run is interleaved (one slice
  // otherwise): each slice sends its share of the messages on the same schedule and waits
  // for its deliveries before its end mark.
  const lag = { maxLagMs: 0 };
  const extra = {};
  const counts = shares(measN, sliceCount(durationSec, sliceSec));
  let kNext = warmN;
  let drainMsUsed = 0;
  let drained = true;
  const w = await slicedWindow(counts.length, async (i) => {
    if (i === 0) Object.assign(extra, hooks.onStart?.(clients));
    await sendPhase(clients, kNext, counts[i], period, lag, payload);
    kNext += counts[i];
    const sendEnd = performance.now();
    // Drain: wait while deliveries still arrive; stop once all sent so far arrived, or
    // nothing arrived for drainMs (the rest is lost), or maxDrainMs passed (the rest is
    // counted lost but flagged as an overloaded run, not a protocol bug).
    const due = n * (n - 1) * (kNext - warmN);
    let last = received; let lastChange = performance.now();
    const quiet = () => {
      if (received !== last) { last = received; lastChange = performance.now(); }
      return received >= due || performance.now() - lastChange > drainMs;
    };
    drained = (await waitFor(quiet, maxDrainMs ?? drainMs * 10)) && drained;
    drainMsUsed = Math.max(drainMsUsed, performance.now() - sendEnd);
    if (i === counts.length - 1) Object.assign(extra, await hooks.onEnd?.(clients));
  });

  // The clients close in a turn, so their closes never land in another column's slice.
  await takeTurn();
  closeAll(clients);
  return {
    users: n,
    instances: ports?.length ?? 1,
    sent: n * measN,
    sentWithWarmup: n * (warmN + measN),
    expected,
    received,
    loss: expected - received,
    dup,
    reorder,
    echo,
    bad,
    ...w,
    deliveriesPerSec: received / (w.wallMs / 1000),
    offeredPerSec: n * (n - 1) * rateHz,
    maxSendLagMs: lag.maxLagMs,
    drainMs: drainMsUsed,
    drainCapped: !drained,
    latencyMs: percentiles(lat.subarray(0, received), [50, 99]),
    ...extra,
  };
}
