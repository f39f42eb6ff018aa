// Turn one run's raw data (generator result + server samples taken by the
// harness) into the figures that go in the table. Server CPU always comes from
// /proc/<pid>/stat deltas between the generator's 'start' and 'end' marks.

const GEN_BOUND_SHARE = 0.9; // generator used >90% of one core: it may be the bottleneck

function serverCpuMs(samples) {
  if (!samples.start || !samples.end) throw new Error('missing cpu samples');
  return samples.end.cpuMs - samples.start.cpuMs;
}

// sCpuMs: CPU of the busiest server process (one process can use one core).
function flagsFor(r, sCpuMs) {
  const flags = [];
  if (r.genCpuShare > GEN_BOUND_SHARE) flags.push(`generator-bound (gen CPU ${(r.genCpuShare * 100).toFixed(0)}% of a core)`);
  const share = sCpuMs / r.wallMs;
  if (share > 0.95) flags.push(`server saturated (${(share * 100).toFixed(0)}% of a core)`);
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

const SUMMARIZERS = {
  connect(r, s) {
    const cpu = serverCpuMs(s);
    return {
      metrics: {
        cpuMsPerConn: r.ok ? cpu / r.ok : null,
        connPerSec: r.ok / (r.wallMs / 1000),
        handshakeP50: r.handshakeMs.p50,
        handshakeP99: r.handshakeMs.p99,
        connectFailed: r.failed,
        genCpuShare: r.genCpuShare,
        serverCpuShare: cpu / r.wallMs,
      },
      flags: flagsFor(r, cpu).concat(r.failed ? [`${r.failed} connects failed: ${JSON.stringify(r.errors).slice(0, 200)}`] : []),
    };
  },
  fanout(r, s) {
    const cpu = serverCpuMs(s);
    return {
      metrics: {
        latP50: r.latencyMs.p50,
        latP99: r.latencyMs.p99,
        // A capped drain means deliveries were still queued, not lost: the
        // count would blame the protocol for an overload, so leave it out.
        loss: r.drainCapped ? null : r.loss,
        overloaded: r.drainCapped || r.latencyMs.p50 > 250 ? 1 : 0,
        dup: r.dup,
        reorder: r.reorder,
        echoOrInvalid: r.echo + r.bad,
        cpuUsPerDelivery: r.received ? (cpu * 1000) / r.received : null,
        deliveriesPerSec: r.deliveriesPerSec,
        genCpuShare: r.genCpuShare,
        serverCpuShare: cpu / r.wallMs,
      },
      flags: flagsFor(r, cpu).concat(fanoutFlags(r)),
    };
  },
  'fanout-max'(r, s) {
    const cpu = serverCpuMs(s);
    return {
      metrics: {
        deliveredPerSec: r.deliveriesPerSec,
        messagesPerSec: r.messagesPerSec,
        maxCpuUsPerDelivery: r.delivered ? (cpu * 1000) / r.delivered : null,
        stalled: r.stalled + r.anomalies,
        genCpuShare: r.genCpuShare,
        serverCpuShare: cpu / r.wallMs,
      },
      flags: flagsFor(r, cpu),
    };
  },
  // The fanout figures over a group of instances (lib/cluster.mjs): server CPU
  // is the sum over all instances; Redis CPU is kept apart (it is the bus, not
  // the product) and reported beside it.
  cluster(r, s) {
    const out = SUMMARIZERS.fanout(r, s);
    const per = s.start.perInstanceMs.map((v, i) => s.end.perInstanceMs[i] - v);
    const redisMs = s.end.redisCpuMs - s.start.redisCpuMs;
    const cpu = serverCpuMs(s);
    Object.assign(out.metrics, {
      instances: per.length,
      redisCpuUsPerDelivery: r.received ? (redisMs * 1000) / r.received : null,
      totalCpuUsPerDelivery: r.received ? ((cpu + redisMs) * 1000) / r.received : null,
      maxInstanceCpuShare: Math.max(...per) / r.wallMs,
      redisCpuShare: redisMs / r.wallMs,
    });
    // Re-judge saturation per process: two instances may use more than one core between them.
    out.flags = flagsFor(r, Math.max(...per)).concat(fanoutFlags(r));
    return out;
  },
  idle(r, s) {
    const b = s.baseline; const l = s.loaded;
    if (!b || !l) throw new Error('missing mem samples');
    return {
      metrics: {
        rssPerConn: (l.rss - b.rss) / r.ok,
        heapPerConn: (l.heapUsed - b.heapUsed) / r.ok,
        externalPerConn: (l.external - b.external) / r.ok,
        baselineHeap: b.heapUsed,
      },
      flags: [],
    };
  },
};

export function summarize(scenario, result, samples) {
  return SUMMARIZERS[scenario](result, samples);
}
