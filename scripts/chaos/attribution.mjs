// Which fault each lost, duplicated or reordered delivery belongs to, so that a failing run says
// "lost: 120 around SIGKILL of B, receiver resuming" rather than just "lost: 120".
//
// For a delivery of stroke n from sender S to receiver R, sent at time t (recorded by the
// sender): if S's connection went down within [t − 1 s, t + 3 s] (the stroke was in flight or
// queued while S was away), the sender's drop is blamed; otherwise, if R's went down within
// [t − 10 s, t + 3 s] (R was away or resuming when the stroke was delivered), the receiver's.
// That drop is then matched to a fault: a drop event that listed the client (±1 s), an instance
// signalled between the signal and 1 s after its exit, or the Redis pause (±1 s); else "other".
// Heuristic by design: it points at where to look, the counts themselves come from the checker.

const SENDER_WINDOW = [-1000, 3000];
const RECEIVER_WINDOW = [-10_000, 3000];

/** The client's `reconnecting` transition nearest to `t` within t + window, or null. */
function downNear(client, t, [before, after]) {
  let best = null;
  for (const s of client.states) {
    if (s.state !== 'reconnecting' || s.t < t + before || s.t > t + after) continue;
    if (best === null || Math.abs(s.t - t) < Math.abs(best.t - t)) best = s;
  }
  return best;
}

function faultOf(idx, down, events) {
  for (const e of events) {
    if (e.kind === 'drop' && e.indices.includes(idx) && Math.abs(e.at - down.t) <= 1000) return e.duringPause ? 'drop during the Redis pause' : 'drop';
    if ((e.kind === 'sigterm' || e.kind === 'sigkill') && down.t >= e.at && down.t <= e.exitAt + 1000) return `${e.kind.toUpperCase()} of ${e.instance}`;
    if (e.kind === 'redis-pause' && down.t >= e.at - 1000 && down.t <= e.end + 1000) return 'Redis pause';
  }
  return `other (close ${down.closeCode ?? '?'})`;
}

/**
 * @param found the checker's `found` ({ lost, duplicated, reordered }: [receiver, sender, n] lists)
 * @returns { lost: {cause: count}, duplicated: {…}, reordered: {…} }
 */
export function attribute(found, clients, events) {
  const byIdx = new Map(clients.map((c) => [c.idx, c]));
  const out = { strokes: strokeDetails(found, byIdx, events) };
  for (const [kind, list] of Object.entries(found)) {
    const counts = {};
    for (const [r, s, n] of list) {
      const sender = byIdx.get(s);
      const t = sender.sentAt[n];
      let cause = 'no drop near it';
      const sDown = downNear(sender, t, SENDER_WINDOW);
      if (sDown) cause = `sender: ${faultOf(s, sDown, events)}`;
      else {
        const rDown = downNear(byIdx.get(r), t, RECEIVER_WINDOW);
        if (rDown) cause = `receiver: ${faultOf(r, rDown, events)}`;
      }
      counts[cause] = (counts[cause] ?? 0) + 1;
    }
    out[kind] = counts;
  }
  return out;
}

/** Seconds, signed, with one decimal. */
const sec = (ms) => `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(1)} s`;

/**
 * The first few strokes with a lost or extra copy, one line each: how many receivers missed or
 * doubled it, when it was sent and settled relative to the nearest fault, and what its sender's
 * connection did around then. This is what a bug report needs.
 */
function strokeDetails(found, byIdx, events, limit = 6) {
  const faults = events.filter((e) => e.kind !== 'drop' || e.duringPause);
  const out = [];
  for (const [kind, list] of Object.entries(found)) {
    const per = new Map();
    for (const [r, s, n] of list) per.set(`${s}:${n}`, [...(per.get(`${s}:${n}`) ?? []), r]);
    for (const [key, receivers] of [...per].slice(0, limit)) {
      const [s, n] = key.split(':').map(Number);
      const c = byIdx.get(s);
      const t = c.sentAt[n];
      const near = faults.reduce((best, e) => (best === null || Math.abs(e.at - t) < Math.abs(best.at - t) ? e : best), null);
      const label = near ? `${near.kind}${near.instance ? ` ${near.instance}` : ''}` : 'no fault';
      const around = (k) =>
        k.states
          .filter((st) => Math.abs(st.t - t) < 5000)
          .map((st) => `${st.state}${st.missed ? `(${st.missed})` : ''}${st.closeCode ? `[${st.closeCode}]` : ''} ${sec(st.t - (near?.at ?? t))}`)
          .join(', ') || 'connected throughout';
      out.push(
        `${kind}: stroke ${n} of u${s}, ${receivers.length} receiver(s) (${receivers
          .slice(0, 4)
          .map((r) => `u${r}`)
          .join(' ')}${receivers.length > 4 ? ' …' : ''}); ` +
          `sent ${sec(t - (near?.at ?? t))} from ${label}, ${c.settledAt?.[n] ? `settled ${sec(c.settledAt[n] - (near?.at ?? t))}` : 'never settled'}` +
          `; sender: ${around(c)}; receiver u${receivers[0]}: ${around(byIdx.get(receivers[0]))}`,
      );
    }
  }
  return out;
}
