// The checker: for every sender, its strokes as seen by every other member of its room. Every
// client joins its room before the load starts and stays in it for the whole run, so every other
// member must see every stroke of the sender that the room accepted, once, in the sender's order.
//
// What the sender knows about each stroke (its counter n, 1, 2, 3 …), from the SDK:
//   ACKED          send()'s promise resolved: the server acknowledged it (ack for its seq), so it
//                  is in the room (its log). Every other member must receive it.
//   SENT           send() returned, nothing more is known: an SDK whose send() returns no
//                  promise (fire and forget), or one still pending at the end (the run failed to
//                  quiesce: counted as pendingAtEnd). The SDK never said it was not delivered,
//                  so the app has every reason to believe it was: every other member must
//                  receive it.
//   REFUSED        send() threw (nothing went out), or its promise rejected with a server error
//                  for its seq (NOT_IN_ROOM, RATE_LIMITED, UNAVAILABLE, BAD_REQUEST: the server
//                  says it was not accepted and nothing was delivered) or with OUTBOX_FULL (the
//                  SDK never sent it). No member may receive it (one that does counts as
//                  deliveredDespiteRefusal, a failure).
//   UNACKNOWLEDGED the SDK reported it as not known to be delivered: listed in the
//                  `unacknowledged` event, or rejected with anything else (NOT_DELIVERED: its
//                  session was lost and a fresh login replaced it; CLOSED). It may or may not
//                  have reached the room: not expected, not forbidden. How many such strokes
//                  reached every member, some, or none is reported (a partial one is worth a
//                  look, but the app was told).
// (With the SDK's testing-only `unsafeDisableExactlyOnce.seq`, send() resolves once the frame is
// written: such strokes count as ACKED, and the checker then sees what fire and forget loses.)
// So: a stroke is LOST for receiver R when it is ACKED or SENT and R never received it. A stroke
// is DUPLICATED once per extra copy R received. An arrival is REORDERED when R had already received
// a higher counter of the same sender (first copies only). ECHOED counts strokes a sender
// received of its own (fan-out must never reach the sender). All four must be 0.
//
// Resumes: every `resumed` state with missed `truncated` is a failure unless the log bound was
// really exceeded: the client's last position before the drop and its first position after the
// resume (`<epoch>.<n>`, n counting the room's messages) are more than `logBound` apart (the
// server's WS_RESUME_BUFFER_MESSAGES, 500 by default; the byte bound is far off with strokes of
// ~150 bytes), or their epochs differ (the log was lost). A
// `connected` state with missed `lost` (the session could not be resumed: a fresh login) is a
// failure too: the scenario never expires a session.

export const STATUS = { NONE: 0, SENT: 1, ACKED: 2, REFUSED: 3, UNACKNOWLEDGED: 4 };

/** `<epoch>.<n>` (docs/protocol.md; opaque to apps, read here only to judge a truncation) → { epoch, n }, or null. */
function parsePos(pos) {
  const m = typeof pos === 'string' ? /^([a-z0-9]{1,16})\.(\d+)$/.exec(pos) : null;
  return m ? { epoch: m[1], n: Number(m[2]) } : null;
}

const EXAMPLES = 8;

/**
 * @param {{ clients: Array<object> }} report merged worker reports (load-pool.mjs report())
 * @param {{ logBound?: number | null }} options
 */
export function check(report, { logBound = null } = {}) {
  const byIdx = new Map(report.clients.map((c) => [c.idx, c]));
  const rooms = new Map();
  for (const c of report.clients) rooms.set(c.room, [...(rooms.get(c.room) ?? []), c.idx]);
  const f = {
    senders: report.clients.length,
    strokesSent: 0,
    strokesAcked: 0,
    strokesRefused: 0,
    strokesUnacknowledged: 0,
    pendingAtEnd: 0,
    deliveriesExpected: 0,
    deliveriesReceived: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    echoed: 0,
    deliveredDespiteRefusal: 0,
    unknownStrokes: 0,
    unacknowledgedReached: { all: 0, some: 0, none: 0 },
    resumes: { replayed: 0, none: 0, truncated: 0, truncatedJustified: 0, other: 0 },
    freshLogins: 0,
    sessionsLost: 0,
    promiseSends: report.clients.some((c) => c.promiseSends),
    errors: {},
    refusedCodes: {},
    examples: { lost: [], duplicated: [], reordered: [], echoed: [], truncated: [] },
  };
  /** Every lost and every extra copy as [receiver, sender, counter] (attribution.mjs), bounded. */
  const found = { lost: [], duplicated: [], reordered: [] };
  const keep = (list, r, s, n) => list.length < 200_000 && list.push([r, s, n]);
  const add = (obj, k, v = 1) => (obj[k] = (obj[k] ?? 0) + v);

  for (const c of report.clients) {
    for (const [k, v] of Object.entries(c.errors)) add(f.errors, k, v);
    for (const [k, v] of Object.entries(c.refusedCodes)) add(f.refusedCodes, `rejected ${k}`, v);
    for (const [k, v] of Object.entries(c.sendThrows ?? {})) add(f.refusedCodes, `thrown ${k}`, v);
    f.strokesSent += c.sent;
    for (let n = 1; n <= c.sent; n++) {
      const s = c.status[n];
      if (s === STATUS.ACKED) f.strokesAcked++;
      else if (s === STATUS.REFUSED) f.strokesRefused++;
      else if (s === STATUS.UNACKNOWLEDGED) f.strokesUnacknowledged++;
      else if (s === STATUS.SENT && c.promiseSends) f.pendingAtEnd++;
    }
    f.echoed += c.echoes;
    if (c.echoes > 0 && f.examples.echoed.length < EXAMPLES) f.examples.echoed.push(`u${c.idx} received ${c.echoes} of its own strokes`);
    // Resumes and fresh logins, from the state log (the first `connected` is the login).
    let logins = 0;
    for (const st of c.states) {
      if (st.state === 'resumed') {
        if (st.missed in f.resumes) f.resumes[st.missed]++;
        else f.resumes.other++;
      } else if (st.state === 'connected') {
        logins++;
        if (st.missed === 'lost') f.sessionsLost++;
      }
    }
    f.freshLogins += Math.max(0, logins - 1);
    for (const tr of c.truncations) {
      const [before, after] = [parsePos(tr.before), parsePos(tr.after)];
      const gap = before && after && before.epoch === after.epoch ? after.n - before.n - 1 : null;
      const justified = (before && after && before.epoch !== after.epoch) || (logBound !== null && gap !== null && gap > logBound);
      if (justified) f.resumes.truncatedJustified++;
      else if (f.examples.truncated.length < EXAMPLES)
        f.examples.truncated.push(
          `u${c.idx} at ${new Date(tr.t).toISOString()}: last position before ${tr.before ?? '?'}, first after ${tr.after ?? '?'} (gap ${gap ?? '?'}, bound ${logBound ?? '?'})`,
        );
    }
  }

  for (const [, members] of rooms) {
    for (const s of members) {
      const sender = byIdx.get(s);
      // reached[n]: how many other members got stroke n at least once (for UNACKNOWLEDGED ones).
      const reached = new Uint16Array(sender.sent + 1);
      for (const r of members) {
        if (r === s) continue;
        const got = byIdx.get(r).got.get(s) ?? [];
        const copies = new Uint16Array(sender.sent + 1);
        let max = 0;
        for (const n of got) {
          f.deliveriesReceived++;
          if (n < 1 || n > sender.sent) {
            f.unknownStrokes++;
            continue;
          }
          if (copies[n]++ > 0) {
            f.duplicated++;
            keep(found.duplicated, r, s, n);
            if (f.examples.duplicated.length < EXAMPLES) f.examples.duplicated.push(`u${r} got stroke ${n} of u${s} ${copies[n]} times`);
            continue;
          }
          reached[n]++;
          if (n < max) {
            f.reordered++;
            keep(found.reordered, r, s, n);
            if (f.examples.reordered.length < EXAMPLES) f.examples.reordered.push(`u${r} got stroke ${n} of u${s} after ${max}`);
          }
          max = Math.max(max, n);
        }
        for (let n = 1; n <= sender.sent; n++) {
          const st = sender.status[n];
          if (st === STATUS.ACKED || st === STATUS.SENT) {
            f.deliveriesExpected++;
            if (copies[n] === 0) {
              f.lost++;
              keep(found.lost, r, s, n);
              if (f.examples.lost.length < EXAMPLES) f.examples.lost.push(`u${r} never got stroke ${n} of u${s} (${st === STATUS.ACKED ? 'acked' : 'sent'})`);
            }
          } else if (st === STATUS.REFUSED && copies[n] > 0) f.deliveredDespiteRefusal++;
        }
      }
      for (let n = 1; n <= sender.sent; n++) {
        if (sender.status[n] !== STATUS.UNACKNOWLEDGED) continue;
        const k = reached[n] === members.length - 1 ? 'all' : reached[n] > 0 ? 'some' : 'none';
        f.unacknowledgedReached[k]++;
      }
    }
  }

  // How long acknowledged strokes waited for their ack (send() to resolve): the sending side's recovery.
  const waits = [];
  for (const c of report.clients)
    for (let n = 1; n <= c.sent; n++) if (c.status[n] === STATUS.ACKED && c.settledAt?.[n] > 0) waits.push(c.settledAt[n] - c.sentAt[n]);
  waits.sort((a, b) => a - b);
  const q = (p) => (waits.length > 0 ? waits[Math.min(waits.length - 1, Math.floor(p * waits.length))] : null);
  f.ackWaitMs = { p50: q(0.5), p99: q(0.99), max: waits.at(-1) ?? null };

  const unjustifiedTruncations = f.resumes.truncated - f.resumes.truncatedJustified;
  f.failures = [
    ['lost', f.lost],
    ['duplicated', f.duplicated],
    ['reordered', f.reordered],
    ['echoed', f.echoed],
    ['delivered despite refusal', f.deliveredDespiteRefusal],
    ['strokes never sent received', f.unknownStrokes],
    ['sends pending at the end', f.pendingAtEnd],
    ['truncated resumes within the log bound', unjustifiedTruncations],
    ['sessions lost (fresh login)', f.sessionsLost],
  ]
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}: ${v}`);
  Object.defineProperty(f, 'found', { value: found, enumerable: false });
  return f;
}
