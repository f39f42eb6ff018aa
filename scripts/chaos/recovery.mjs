// Time from each fault until every client it affected is back (state `resumed`, or `connected`
// after a fresh login), from the fault log (faults.mjs) and every client's state log
// (load-worker.mjs), all wall-clock times of this one machine.
//
// Which clients a fault affected:
// - a drop: the clients whose TCP connection it destroyed (known exactly);
// - SIGTERM / SIGKILL of an instance: the clients that went `reconnecting` between the signal and
//   1 s after the process exited, except those a drop hit in that window (nginx does not say
//   which instance a client is on; a drain closes its clients before the process exits, a kill
//   closes them when it dies);
// - the Redis pause: the clients that went `reconnecting` between SIGSTOP and 1 s after SIGCONT
//   (the drops during the pause, plus any the pause itself cost).
// A client that is not back by the end of the run counts as not recovered.

const BACK = new Set(['resumed', 'connected']);
const AFTER_EXIT_MS = 1000;

/** The first time after `t` at which client `c` is back; null if never. */
function backAfter(c, t) {
  const st = c.states.find((s) => s.t >= t && BACK.has(s.state));
  return st ? st.t : null;
}

/** Clients that went `reconnecting` within [from, to], minus `exclude`. */
function wentDown(clients, from, to, exclude) {
  return clients.filter((c) => !exclude.has(c.idx) && c.states.some((s) => s.state === 'reconnecting' && s.t >= from && s.t <= to));
}

/**
 * @returns Array<{ kind, label, at, affected, recovered, maxMs, p50Ms, fromEndMs? }>
 */
export function recoveryTimes(events, clients) {
  const byIdx = new Map(clients.map((c) => [c.idx, c]));
  const drops = events.filter((e) => e.kind === 'drop');
  const droppedWithin = (from, to) => new Set(drops.filter((d) => d.at >= from - 50 && d.at <= to).flatMap((d) => d.indices));
  const out = [];
  for (const e of events) {
    let affected;
    let label;
    if (e.kind === 'drop') {
      affected = e.indices.map((i) => byIdx.get(i));
      label = `drop of ${e.indices.length} connection(s)${e.duringPause ? ' during the Redis pause' : ''}`;
    } else if (e.kind === 'sigterm' || e.kind === 'sigkill') {
      affected = wentDown(clients, e.at, e.exitAt + AFTER_EXIT_MS, droppedWithin(e.at, e.exitAt + AFTER_EXIT_MS));
      label = `${e.kind === 'sigterm' ? 'SIGTERM (rolling restart)' : 'SIGKILL'} of ${e.instance}`;
    } else if (e.kind === 'redis-pause') {
      affected = wentDown(clients, e.at, e.end + AFTER_EXIT_MS, new Set());
      label = `Redis paused ${((e.end - e.at) / 1000).toFixed(1)} s (${e.nodes} process(es))`;
    } else continue;
    const times = affected.map((c) => backAfter(c, e.kind === 'drop' ? e.at : Math.max(e.at, firstDown(c, e.at)))).map((t) => (t === null ? null : t - e.at));
    const ok = times.filter((t) => t !== null).sort((a, b) => a - b);
    // The slowest (or a never-back) client: its state log explains a long recovery.
    let slowest = null;
    times.forEach((t, i) => {
      if (slowest === null || t === null || (times[slowest] !== null && t > times[slowest])) slowest = times[slowest] === null ? slowest : i;
    });
    out.push({
      kind: e.kind,
      label,
      at: e.at,
      affected: affected.length,
      recovered: ok.length,
      maxMs: ok.length > 0 ? ok.at(-1) : null,
      p50Ms: ok.length > 0 ? ok[Math.floor((ok.length - 1) / 2)] : null,
      slowest: slowest === null ? null : affected[slowest].idx,
      ...(e.kind === 'redis-pause' ? { fromEndMs: ok.length > 0 ? Math.max(0, ok.at(-1) + e.at - e.end) : null } : {}),
      ...(e.kind === 'sigterm' || e.kind === 'sigkill' ? { downMs: e.exitAt - e.at, restartMs: e.readyAt - e.startAt } : {}),
    });
  }
  return out;
}

/** When client `c` first went `reconnecting` at or after `t` (so "back" means back after that drop). */
function firstDown(c, t) {
  return c.states.find((s) => s.t >= t && s.state === 'reconnecting')?.t ?? t;
}
