// fanout-max: closed-loop throughput. `users` members of one room; at most
// `window` messages are in flight, a message being in flight until all
// users-1 recipients received it; each completion releases the next send
// (senders taken round-robin). Measures delivered (per-recipient) msgs/s over
// durationSec after a warm-up.
//
// The generator must not be the bottleneck: the receive path reads the
// message id `q` from the frame's last bytes (wire.mjs lastInts), no JSON.parse.
import { makeTokens } from './tokens.mjs';
import { lastInts } from './wire.mjs';
import { measurePhase } from './link.mjs';
import { connectAll, closeAll, sleep, waitFor } from './util.mjs';

const ROOM = 'fanout-max';
const RING = 1 << 16; // > window: slot g & MASK is free again long before reuse
const MASK = RING - 1;

export async function run({ protocol, port, secret, params }) {
  const { users: n, window: win, warmupSec, durationSec, drainMs } = params;
  const clients = await connectAll(protocol, port, makeTokens(secret, n), () => ROOM);
  await sleep(300);

  const remaining = new Int32Array(RING);
  let g = 0; let inFlight = 0; let stop = false; let measuring = false;
  let delivered = 0; let completed = 0; let anomalies = 0;

  const pump = () => {
    while (!stop && inFlight < win) {
      const s = g % n;
      remaining[g & MASK] = n - 1;
      clients[s].send(ROOM, `{"s":${s},"q":${g}}`); // "q" last: see lastInts
      g++;
      inFlight++;
    }
  };
  const onDelivery = (q) => {
    if (measuring) delivered++;
    const left = --remaining[q & MASK];
    if (left === 0) {
      inFlight--;
      if (measuring) completed++;
      pump();
    } else if (left < 0) anomalies++; // duplicate or echo
  };
  const q = new Float64Array(1);
  for (const c of clients) c.onMessage = (buf, start, end) => { if (lastInts(buf, start, end, q)) onDelivery(q[0]); else anomalies++; };

  pump();
  const w = await measurePhase({
    warmupSec, durationSec, drainMs,
    measure: (on) => { measuring = on; },
    stop: () => { stop = true; },
    settled: () => inFlight === 0,
  });

  closeAll(clients);
  return {
    users: n,
    window: win,
    delivered,
    completed,
    stalled: inFlight, // messages never completed: lost deliveries
    anomalies,
    ...w,
    deliveriesPerSec: delivered / (w.wallMs / 1000),
    messagesPerSec: completed / (w.wallMs / 1000),
  };
}
