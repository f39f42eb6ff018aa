// Turn one run's raw data (generator result + server samples taken by the
// harness) into the figures that go in the tables, plus flags for the notes.
// Server CPU always comes from the server's run-time deltas (lib/proc.mjs procCpuMs)
// between two samples the generator asked for (normally 'start' and 'end'; an
// interleaved window's slices summed, lib/generator.mjs mergeSlices).

const GEN_BOUND_SHARE = 0.9; // generator used >90% of one core: it may be the bottleneck
const SATURATED_SHARE = 0.95;

const delta = (samples, a, b, key = 'cpuMs') => {
  if (!samples[a] || !samples[b]) throw new Error(`missing cpu samples ${a}/${b}`);
  return samples[b][key] - samples[a][key];
};
const per = (x, n) => (n ? x / n : null);
const NOISY_CORES = 0.25; // other processes used more than this during a window: say so

/**
 * Cores that OTHER processes used during window a..b: the machine's busy time
 * minus the servers', Redis's, the generator's and this harness's own. Our
 * runs share 2 cores with whatever else runs here; this is how much did.
 */
function otherCores(s, a, b, genCpuMs) {
  const d = (k) => (s[b][k] ?? 0) - (s[a][k] ?? 0);
  if (s[a].machineMs === undefined) return null;
  return Math.max(0, d('machineMs') - d('cpuMs') - d('redisCpuMs') - d('harnessMs') - genCpuMs) / d('t');
}
const noisy = (cores) => (cores > NOISY_CORES ? [`machine not quiet: other processes used ${cores.toFixed(2)} cores during the window`] : []);

// cpuMs: CPU of the busiest server process (one process can use one core).
// closedLoop: the scenario drives the server as fast as it answers (connect,
// fanout-max), so a saturated server is by design there, not a warning.
function flagsFor(r, cpuMs, { closedLoop = false } = {}) {
  const flags = [];
  if (r.genCpuShare > GEN_BOUND_SHARE) flags.push(`generator-bound (gen CPU ${(r.genCpuShare * 100).toFixed(0)}% of a core)`);
  const share = cpuMs / r.wallMs;
  if (share > SATURATED_SHARE) flags.push(`server saturated (${(share * 100).toFixed(0)}% of a core${closedLoop ? '; closed loop, expected' : ''})`);
  return flags;
}

/** fanout is open-loop: say so when the offered load was not sustained. */
function fanoutFlags(r) {
  const f = [];
  const period = (1000 * r.users * (r.users - 1)) / r.offeredPerSec; // 1000 / rateHz
  if (r.maxSendLagMs > period) f.push(`generator behind schedule (max send lag ${Math.round(r.maxSendLagMs)} ms)`);
  if (r.latencyMs.p50 > 250) {
    f.push(`overloaded: p50 latency ${Math.round(r.latencyMs.p50)} ms, ${Math.round(r.deliveriesPerSec)} of ${r.offeredPerSec} deliveries/s offered`);
  }
  if (r.drainCapped) f.push(`deliveries still arriving ${Math.round(r.drainMs / 1000)} s after the last send; the rest counted as lost`);
  return f;
}

function fanoutMetrics(r, cpu, deliveries = r.received) {
  return {
    latP50: r.latencyMs.p50,
    latP99: r.latencyMs.p99,
    // A capped drain means deliveries were still queued, not lost: the count
    // would blame the protocol for an overload, so leave it out.
    loss: r.drainCapped ? null : r.loss,
    overloaded: r.drainCapped || r.latencyMs.p50 > 250 ? 1 : 0,
    dup: r.dup,
    reorder: r.reorder,
    echoOrInvalid: r.echo + r.bad,
    cpuUsPerDelivery: per(cpu * 1000, deliveries),
    deliveriesPerSec: r.deliveriesPerSec,
    genCpuShare: r.genCpuShare,
    serverCpuShare: cpu / r.wallMs,
  };
}

const SUMMARIZERS = {
  connect(r, s) {
    const cpu = delta(s, 'start', 'end');
    return {
      metrics: {
        cpuMsPerConn: per(cpu, r.ok),
        connPerSec: r.ok / (r.wallMs / 1000),
        handshakeP50: r.handshakeMs.p50,
        handshakeP99: r.handshakeMs.p99,
        connectFailed: r.failed,
        genCpuShare: r.genCpuShare,
        serverCpuShare: cpu / r.wallMs,
      },
      flags: flagsFor(r, cpu, { closedLoop: true }).concat(r.failed ? [`${r.failed} connects failed: ${JSON.stringify(r.errors).slice(0, 200)}`] : []),
    };
  },
  fanout(r, s) {
    const cpu = delta(s, 'start', 'end');
    return { metrics: fanoutMetrics(r, cpu), flags: flagsFor(r, cpu).concat(fanoutFlags(r)) };
  },
  'fanout-max'(r, s) {
    const cpu = delta(s, 'start', 'end');
    return {
      metrics: {
        deliveredPerSec: r.deliveriesPerSec,
        messagesPerSec: r.messagesPerSec,
        maxCpuUsPerDelivery: per(cpu * 1000, r.delivered),
        stalled: r.stalled + r.anomalies,
        genCpuShare: r.genCpuShare,
        serverCpuShare: cpu / r.wallMs,
      },
      flags: flagsFor(r, cpu, { closedLoop: true }),
    };
  },
  // Open loop at a fixed load: a saturated side, a send schedule the generator could not
  // keep, or a backlog (sends skipped) is flagged, and the run counted as overloaded.
  'fanout-busy'(r, s) {
    const cpu = delta(s, 'start', 'end');
    const behind = r.maxSendLagMs > 4 * r.everyMs;
    const flags = flagsFor(r, cpu);
    if (behind) flags.push(`generator behind schedule (max send lag ${Math.round(r.maxSendLagMs)} ms)`);
    if (r.skipped > 0) flags.push(`overloaded: ${r.skipped} sends skipped with ${r.maxInFlight} messages incomplete`);
    return {
      metrics: {
        busyCpuUsPerDelivery: per(cpu * 1000, r.delivered),
        completionP50: r.completionMs.p50,
        completionP99: r.completionMs.p99,
        deliveriesPerSec: r.deliveriesPerSec,
        overloaded: behind || r.skipped > 0 ? 1 : 0,
        stalled: r.stalled + r.anomalies,
        genCpuShare: r.genCpuShare,
        serverCpuShare: cpu / r.wallMs,
      },
      flags,
    };
  },
  // The fanout figures over a group of instances (lib/cluster.mjs): server CPU
  // is the sum over all instances; Redis CPU (all nodes) is kept apart (it is
  // the bus, not the product) and reported beside it.
  cluster(r, s) {
    const cpu = delta(s, 'start', 'end');
    const out = { metrics: fanoutMetrics(r, cpu) };
    const perInst = s.start.perInstanceMs.map((v, i) => s.end.perInstanceMs[i] - v);
    const redisMs = delta(s, 'start', 'end', 'redisCpuMs');
    const hasRedis = s.end.redisCpuMs > 0;
    Object.assign(out.metrics, {
      instances: perInst.length,
      redisCpuUsPerDelivery: hasRedis ? per(redisMs * 1000, r.received) : null,
      maxInstanceCpuShare: Math.max(...perInst) / r.wallMs,
      redisCpuShare: hasRedis ? redisMs / r.wallMs : null,
    });
    // Saturation is judged per process: instances may use more than one core between them.
    out.flags = flagsFor(r, Math.max(...perInst)).concat(fanoutFlags(r));
    return out;
  },
  idle(r, s) {
    const b = s.baseline; const l = s.loaded; const l2 = s.loaded2;
    if (!b || !l) throw new Error('missing mem samples');
    return {
      metrics: {
        rssPerConn: (l.rss - b.rss) / r.ok,
        heapPerConn: (l.heapUsed - b.heapUsed) / r.ok,
        rssPerConn2: l2 ? (l2.rss - b.rss) / r.ok2 : null,
        heapPerConn2: l2 ? (l2.heapUsed - b.heapUsed) / r.ok2 : null,
        baselineHeap: b.heapUsed,
      },
      flags: [],
    };
  },
  // Instance 0 (A) is drained; B and C (1, 2) take the resumes. CPU per resume
  // and per fresh connect are both B+C over their own windows.
  storm(r, s) {
    const takers = (a, b) => s[b].perInstanceMs.slice(1).reduce((acc, v, i) => acc + v - s[a].perInstanceMs[i + 1], 0);
    const freshMs = takers('fresh-start', 'fresh-end');
    const stormMs = takers('storm-start', 'storm-end');
    const redisMs = delta(s, 'storm-start', 'storm-end', 'redisCpuMs');
    const cpuMsPerResume = per(stormMs, r.resumed);
    const cpuMsPerFresh = per(freshMs, r.freshOk);
    const flags = [];
    if (r.failed || r.notResumed) flags.push(`${r.failed} resumes failed, ${r.notResumed} got a fresh (not resumed) ack: ${JSON.stringify(r.failures).slice(0, 300)}`);
    if (r.retries) flags.push(`${r.retries} resume attempts retried after a 503`);
    if (r.stormCapped) flags.push(`storm not over after ${Math.round(r.stormMs)} ms (cap)`);
    if (r.freshFailed) flags.push(`${r.freshFailed} fresh connects failed`);
    if (r.genCpuShare > GEN_BOUND_SHARE) flags.push(`generator-bound (gen CPU ${(r.genCpuShare * 100).toFixed(0)}% of a core)`);
    return {
      metrics: {
        clients: r.clients,
        closed1012: r.closeCodes['1012'] ?? 0,
        closeCodes: r.closeCodes,
        withToken: r.clients - r.noToken,
        resumed: r.resumed,
        resumeFailed: r.failed + r.notResumed + (r.clients - r.resumed - r.failed - r.notResumed),
        stormSec: r.stormMs / 1000,
        cpuMsPerResume,
        cpuMsPerFresh,
        resumeVsFresh: cpuMsPerResume && cpuMsPerFresh ? cpuMsPerResume / cpuMsPerFresh : null,
        redisCpuMsPerResume: per(redisMs, r.resumed),
        takersCpuShare: stormMs / 2 / r.stormWallMs, // mean of B and C
        genCpuShare: r.genCpuShare,
      },
      flags,
    };
  },
  // Deliveries include the churn user's (it is a room member while in): CPU
  // and bytes per delivery divide by every room message delivered.
  compression(r, s) {
    const cpu = delta(s, 'start', 'end');
    const deliveries = r.received + r.churnDeliveries;
    return {
      metrics: {
        ...fanoutMetrics(r, cpu, deliveries),
        negotiated: r.negotiated,
        wireBytesPerDelivery: per(r.wireBytes, deliveries),
      },
      flags: flagsFor(r, cpu).concat(fanoutFlags(r)),
    };
  },
};

// Which samples bound each scenario's measured window (idle has none).
const WINDOW = { storm: ['storm-start', 'storm-end'], idle: null };

export function summarize(scenario, result, samples) {
  const out = SUMMARIZERS[scenario](result, samples);
  const w = WINDOW[scenario] === undefined ? ['start', 'end'] : WINDOW[scenario];
  if (w) {
    const cores = otherCores(samples, w[0], w[1], result.genCpuMs ?? 0);
    out.metrics.otherCpuCores = cores;
    out.flags.push(...noisy(cores));
  }
  return out;
}
