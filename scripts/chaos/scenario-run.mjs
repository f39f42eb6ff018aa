// One scenario on one Redis kind (run.mjs calls it once per kind): start the topology (Redis,
// 3 instances, nginx), the load, run the faults while it runs, wait for quiescence and for the
// lease, check, measure, and stop everything it started, whatever happens.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { machineBusyMs, procCpuMs } from '../../bench/lib/proc.mjs';
import { startRedis } from '../../bench/lib/redis.mjs';
import { attribute } from './attribution.mjs';
import { check } from './checker.mjs';
import { runFaultSteps, startDrops } from './faults.mjs';
import { instanceEnv, startInstances } from './instances.mjs';
import { startLoad } from './load-pool.mjs';
import { startNginx } from './nginx.mjs';
import { recoveryTimes } from './recovery.mjs';
import { LEASE_MS } from './scenarios.mjs';

const log = (...a) => console.error('[chaos]', ...a);
const kvList = (o) =>
  Object.entries(o)
    .map(([k, v]) => `${k} (${v} clients)`)
    .join(', ');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 250 ms until `done(value)`, or until `timeoutMs`; resolves with { value, ok, ms }. */
async function waitUntil(probe, done, timeoutMs) {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value)) return { value, ok: true, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) return { value, ok: false, ms: Date.now() - start };
    await sleep(250);
  }
}

/**
 * @param kind 'single' | 'cluster'
 * @param sc the scenario (scenarios.mjs, with the command line's overrides)
 * @param opts run.mjs's options (sdk, instanceEnv, logBound, scenario)
 * @param dist the app and SDK entry points (dist-snapshot.mjs)
 * @returns the result object of the JSON output (figures, recovery, presence, cpu, failures …)
 */
export async function runOne(kind, sc, opts, dist) {
  const result = { redis: kind, scenario: opts.scenario, params: { ...sc, leaseMs: LEASE_MS }, sdkOptions: opts.sdk, startedAt: new Date().toISOString() };
  if (sc.clients % sc.rooms !== 0) throw new Error('clients must be a multiple of rooms');
  const roomSize = sc.clients / sc.rooms;
  const maxStrokes = Math.ceil(sc.hz * (sc.minLoadSec + 180)) + 10;
  let redis,
    instances = [],
    nginx,
    load;
  try {
    redis = await startRedis(kind);
    const secret = randomBytes(32).toString('hex');
    instances = await startInstances(3, instanceEnv({ secret, redisEnv: redis.env, leaseMs: LEASE_MS, extra: opts.instanceEnv }), dist.main);
    nginx = await startNginx(instances.map((i) => i.port));
    log(`${kind}: redis ${Object.values(redis.env)[0]}, instances ${instances.map((i) => `${i.name}:${i.port}`).join(' ')}, nginx :${nginx.port}`);
    load = await startLoad({
      url: nginx.url,
      secret,
      tenant: 'chaos',
      clients: sc.clients,
      rooms: sc.rooms,
      hz: sc.hz,
      workers: sc.workers,
      maxStrokes,
      sdkOptions: opts.sdk,
      sdkEntry: dist.sdkEntry,
      probeInstances: instances,
    });
    const full = await waitUntil(
      () => load.status(),
      (s) => s.presenceBad === 0 && s.open === sc.clients && s.probesOpen === s.probesLive,
      15_000,
    );
    if (full.value.open < sc.clients || full.value.probesOpen < full.value.probesLive)
      throw new Error(`clients not all connected: ${JSON.stringify(full.value)}`);
    // Every client joined and no fault yet: a wrong view now is a presence race of the joins themselves.
    result.presenceAtStart = full.ok ? 'right' : kvList(full.value.presenceWrong);
    if (!full.ok) log(`${kind}: presence wrong after the joins, before any fault: ${result.presenceAtStart}`);
    log(`${kind}: ${sc.clients} clients in ${sc.rooms} rooms of ${roomSize}, load at ${sc.hz} Hz each`);

    // ---- load + faults
    const cpu0 = { inst: instances.map((i) => i.sampleCpu()), nginx: procCpuMs(nginx.pid), redis: redis.cpuMs(), machine: machineBusyMs(), t: Date.now() };
    load.sampleCpu();
    const events = [];
    let paused = false;
    const t0 = Date.now();
    load.setSending(true);
    const drops = startDrops({
      load,
      clients: sc.clients,
      fraction: sc.dropFraction,
      everySec: sc.dropEverySec,
      firstAtMs: t0 + sc.dropEverySec * 1000,
      events,
      isPaused: () => paused,
    });
    try {
      await runFaultSteps({
        steps: sc.steps,
        t0,
        instances,
        redis,
        drops,
        events,
        setPaused: (p) => (paused = p),
        onKilled: (inst) => load.closeProbes(inst.name),
        log,
      });
      const endAt = Math.max(t0 + sc.minLoadSec * 1000, Date.now() + sc.tailSec * 1000);
      log(`${kind}: faults done at t=${((Date.now() - t0) / 1000).toFixed(1)}s, load until t=${((endAt - t0) / 1000).toFixed(1)}s`);
      await sleep(endAt - Date.now());
    } finally {
      drops.stop();
      load.setSending(false);
    }
    const tStop = Date.now();
    const cpu1 = { inst: instances.map((i) => i.sampleCpu()), nginx: procCpuMs(nginx.pid), redis: redis.cpuMs(), machine: machineBusyMs(), t: Date.now() };
    result.loadSec = (tStop - t0) / 1000;
    result.generatorCpu = load.cpuFigures();

    // ---- quiescence: every client connected, every send settled, deliveries no longer changing
    let lastDistinct = -1;
    let stableSince = Date.now();
    const quiet = await waitUntil(
      () => load.status(),
      (s) => {
        if (s.distinct !== lastDistinct) [lastDistinct, stableSince] = [s.distinct, Date.now()];
        const settled = s.open === s.total && s.pending === 0;
        const complete = s.distinct >= s.expectedOut * (roomSize - 1);
        return settled && ((complete && Date.now() - stableSince >= 1000) || Date.now() - stableSince >= 5000);
      },
      90_000,
    );
    result.quiescence = { ok: quiet.ok, ms: quiet.ms, status: quiet.value };
    log(`${kind}: ${quiet.ok ? 'quiescent' : 'NOT quiescent'} ${(quiet.ms / 1000).toFixed(1)} s after the load stopped`);

    // ---- presence after the lease of the SIGKILLed instance
    const killed = events.filter((e) => e.kind === 'sigkill').map((e) => e.exitAt);
    const killedProbes = new Set(events.flatMap((e) => e.closedProbes ?? []));
    const leaseOver = Math.max(0, ...killed) + LEASE_MS;
    if (leaseOver > Date.now()) await sleep(leaseOver - Date.now());
    const presence = await waitUntil(
      () => load.status(),
      (s) => s.presenceBad === 0 && s.open === s.total,
      20_000,
    );
    const observed = await load.observe();
    const ghostConnections = Object.values(observed)
      .flat()
      .filter((m) => m.userId.startsWith('u') && m.connections !== 1);
    const ghostUsers = Object.values(observed)
      .flat()
      .filter((m) => killedProbes.has(m.userId));
    result.presence = {
      ok: presence.ok,
      /** How long after the lease (and quiescence) every client's view was right. */
      waitedMs: presence.ms,
      probesClosed: [...killedProbes],
      ghosts: presence.value.ghosts,
      missingMembers: presence.value.missingMembers,
      clientsWithWrongPresence: presence.value.presenceBad,
      wrong: presence.value.presenceWrong,
      observerGhostUsers: ghostUsers.map((m) => m.userId),
      observerGhostConnections: ghostConnections.map((m) => `${m.userId}×${m.connections}`),
    };

    // ---- the check
    const report = await load.report();
    // The room log's bound in messages: the instances' WS_RESUME_BUFFER_MESSAGES (default 500).
    result.figures = check(report, { logBound: opts.logBound ?? Number(opts.instanceEnv.WS_RESUME_BUFFER_MESSAGES ?? 500) });
    result.recovery = recoveryTimes(events, report.clients);
    result.attribution = attribute(result.figures.found, report.clients, events);
    // What the slowest client of each slow fault saw (state changes and SDK errors).
    result.slowClients = result.recovery
      .filter((x) => x.slowest !== null && (x.maxMs === null || x.maxMs > 3000))
      .map((x) => {
        const c = report.clients.find((k) => k.idx === x.slowest);
        const states = c.states.filter((st) => st.t >= x.at - 1000 && st.t <= x.at + (x.maxMs ?? 60_000) + 1000);
        return { fault: x.label, client: `u${c.idx}`, states: states.map((st) => ({ ...st, dtMs: st.t - x.at })), errors: c.errorSamples };
      });
    result.events = events.map((e) => ({ ...e, tSec: (e.at - t0) / 1000 }));
    result.loopDelayP99Ms = report.loopDelayP99Ms;
    result.loopDelayMaxMs = report.loopDelayMaxMs;
    const span = cpu1.t - cpu0.t;
    result.cpu = {
      instances: (cpu1.inst.reduce((a, b) => a + b, 0) - cpu0.inst.reduce((a, b) => a + b, 0)) / span,
      nginx: (cpu1.nginx - cpu0.nginx) / span,
      redis: (cpu1.redis - cpu0.redis) / span,
      machine: (cpu1.machine - cpu0.machine) / span,
      cores: os.cpus().length,
    };
    // A wrong presence view: what the user concerned and the clients that saw it did (states, t from the load's start).
    result.presence.detail = Object.entries(presence.value.presenceViewers ?? {})
      .slice(0, 3)
      .map(([what, viewers]) => {
        const user = /^u(\d+) /.exec(what);
        const timeline = (c) => c.states.map((st) => `${((st.t - t0) / 1000).toFixed(1)} ${st.state}${st.closeCode ? `[${st.closeCode}]` : ''}`).join(', ');
        const subject = user ? report.clients.find((c) => c.idx === Number(user[1])) : undefined;
        return {
          what,
          subject: subject ? timeline(subject) : undefined,
          viewers: viewers.map((v) => `u${v}: ${timeline(report.clients.find((c) => c.idx === v))}`),
        };
      });
    result.crashes = instances.flatMap((i) => i.crashes.map((c) => ({ instance: i.name, ...c })));
    result.failures = [
      ...result.figures.failures,
      ...(full.ok ? [] : [`presence wrong after the joins, before any fault: ${result.presenceAtStart}`]),
      ...(quiet.ok ? [] : ['did not quiesce within 90 s']),
      ...(presence.ok ? [] : [`presence wrong after the lease: ${kvList(result.presence.wrong)}`]),
      ...(ghostUsers.length + ghostConnections.length > 0
        ? [
            `observer after the lease: ghost users ${result.presence.observerGhostUsers.join(' ') || 'none'}, ghost connections ${result.presence.observerGhostConnections.join(' ') || 'none'}`,
          ]
        : []),
      ...result.crashes.map((c) => `instance ${c.instance} exited by itself (${c.code ?? c.signal})`),
      ...result.recovery.filter((r) => r.recovered < r.affected).map((r) => `${r.label}: ${r.affected - r.recovered} client(s) never came back`),
    ];
    result.instanceLogs = instances.map((i) => i.tail.slice(-15).join('\n'));
    result.nginxErrors = nginx.errorLog().split('\n').slice(-15).join('\n');
    return result;
  } finally {
    await load?.stop().catch(() => undefined);
    await nginx?.stop().catch(() => undefined);
    await Promise.all(instances.map((i) => i.stop('SIGKILL').catch(() => undefined)));
    await redis?.stop().catch(() => undefined);
  }
}
