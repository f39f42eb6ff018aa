// The faults, injected while the load runs, each logged with the wall-clock times the recovery
// figures are measured from (recovery.mjs):
// - rolling restart: SIGTERM one instance (it drains: 503 to new upgrades, 1012 to its clients),
//   wait for its exit, start it again on the same port, wait for GET /health/ready = 200, next;
// - SIGKILL of one instance (no drain, no goodbye: its sessions are found by their lease), a
//   pause, then the same restart;
// - every `dropEverySec`, the TCP connection of `dropFraction` of the clients destroyed under the
//   SDK (no close frame: the SDK sees 1006 and resumes);
// - Redis paused: SIGSTOP every redis-server process (the single server, or every node of the
//   cluster), drops during the pause, SIGCONT after `pauseSec`.
// The steps run in order, each not before its `at` (seconds after the load started).

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `count` distinct random integers in [0, n). */
function pick(n, count) {
  const chosen = new Set();
  while (chosen.size < Math.min(count, n)) chosen.add(Math.floor(Math.random() * n));
  return [...chosen];
}

/**
 * Periodic drops until `stop()`. Each drop event: { kind: 'drop', at, indices, duringPause }.
 */
export function startDrops({ load, clients, fraction, everySec, firstAtMs, events, isPaused }) {
  let timer;
  let stopped = false;
  const count = Math.max(1, Math.round(clients * fraction));
  const once = async (label) => {
    const { indices, at } = await load.drop(pick(clients, count));
    events.push({ kind: 'drop', label, at, indices, duringPause: isPaused() });
  };
  const loop = async () => {
    if (stopped) return;
    await once('periodic').catch((err) => console.error(`[chaos] drop failed: ${err.message}`));
    if (!stopped) timer = setTimeout(() => void loop(), everySec * 1000);
  };
  timer = setTimeout(() => void loop(), Math.max(0, firstAtMs - Date.now()));
  return {
    /** One extra drop now (the drops during the Redis pause). */
    now: (label) => once(label),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** SIGTERM → exit → start → ready, for one instance. */
async function restart(instance, signal, events, downMs = 0, onKilled = async () => undefined) {
  const ev = { kind: signal === 'SIGKILL' ? 'sigkill' : 'sigterm', instance: instance.name, at: Date.now() };
  events.push(ev);
  const exit = await instance.stop(signal);
  ev.exitAt = exit?.at ?? Date.now();
  ev.exitCode = exit?.code ?? null;
  ev.exitSignal = exit?.signal ?? null;
  if (signal === 'SIGKILL') ev.closedProbes = await onKilled(instance);
  if (downMs > 0) await sleep(downMs);
  ev.startAt = Date.now();
  await instance.start();
  ev.readyAt = Date.now();
}

/**
 * Runs `steps` (see scenarios.mjs) against the running topology. Resolves when the last step is
 * done; `events` gets one entry per fault.
 */
export async function runFaultSteps({ steps, t0, instances, redis, drops, events, setPaused, onKilled, log }) {
  for (const step of steps) {
    const wait = t0 + step.atSec * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    const t = ((Date.now() - t0) / 1000).toFixed(1);
    if (step.kind === 'rolling-restart') {
      log(`t=${t}s rolling restart of ${instances.map((i) => i.name).join(', ')}`);
      for (const inst of instances) await restart(inst, 'SIGTERM', events);
    } else if (step.kind === 'sigkill') {
      const inst = instances[step.instance ?? 1];
      log(`t=${t}s SIGKILL of ${inst.name}, restarted after ${step.downSec} s`);
      await restart(inst, 'SIGKILL', events, step.downSec * 1000, onKilled);
    } else if (step.kind === 'redis-pause') {
      log(`t=${t}s Redis paused (SIGSTOP of ${redis.pids.length} process(es)) for ${step.pauseSec} s, with drops`);
      const ev = { kind: 'redis-pause', at: Date.now(), nodes: redis.pids.length };
      events.push(ev);
      for (const pid of redis.pids) process.kill(pid, 'SIGSTOP');
      setPaused(true);
      try {
        // Drops during the pause: their resumes wait for Redis.
        await sleep((step.pauseSec * 1000) / 2);
        await drops.now('during Redis pause');
        await sleep(ev.at + step.pauseSec * 1000 - Date.now());
      } finally {
        for (const pid of redis.pids) process.kill(pid, 'SIGCONT');
        setPaused(false);
      }
      ev.end = Date.now();
    } else throw new Error(`unknown fault step ${step.kind}`);
  }
}
