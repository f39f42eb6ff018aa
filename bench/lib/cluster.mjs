// Product set-ups of more than one process ("layouts"): K product instances (or
// a floor's: `target`, see LAYOUTS.cluster),
// optionally on a private Redis (lib/redis.mjs), handed to the generator as one
// server group with the shape of a startServer() handle plus `ports`,
// sampleCpu() and signal(). Used by the cluster, storm and compression scenarios.
import http from 'node:http';
import { startServer } from './server.mjs';
import { startRedis } from './redis.mjs';
import { TARGETS } from './targets.mjs';
import { procCpuMs } from './proc.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// cluster: the fanout load on one room spread over 1..3 instances, in memory
// (1 instance: the reference), on one redis-server, on a 3-master Redis Cluster.
// storm: 3 instances on one Redis. compression: one in-memory instance with and
// without permessage-deflate offered. Key order = column order in the report.
export const LAYOUTS = {
  cluster: {
    mem: { instances: 1, redis: null, label: 'in memory, 1 instance' },
    'redis-1': { instances: 1, redis: 'single', label: 'redis-server, 1 instance' },
    // The floor of the same two (baselines/raw-ws.mjs): what one Redis round trip per message
    // costs a server that does nothing else, on this host, in the same interleaved run.
    'floor-mem': { instances: 1, redis: null, target: 'raw-ws-corked', label: 'floor (raw-ws-corked), in memory' },
    'floor-redis-1': { instances: 1, redis: 'single', target: 'raw-ws-corked', label: 'floor (raw-ws-corked), room log on redis-server: one script per message' },
    // Opt-in (--layouts=…,floor-redis-behind): a design experiment, not a floor of the product's
    // job. The floor fans out at once with positions of its own and writes the log behind in
    // batches, so a message is delivered before it is in the log (round 14, docs/performance.md).
    'floor-redis-behind': { instances: 1, redis: 'single', target: 'raw-ws-corked', optIn: true, env: { FLOOR_LOG_BEHIND_MS: '10' }, label: 'floor (raw-ws-corked), room log written behind to redis-server every 10 ms (context: a design the product does not use)' },
    'redis-2': { instances: 2, redis: 'single', label: 'redis-server, 2 instances' },
    'redis-3': { instances: 3, redis: 'single', label: 'redis-server, 3 instances' },
    'rcluster-1': { instances: 1, redis: 'cluster', label: 'Redis Cluster (3 masters), 1 instance' },
    'rcluster-2': { instances: 2, redis: 'cluster', label: 'Redis Cluster (3 masters), 2 instances' },
    'rcluster-3': { instances: 3, redis: 'cluster', label: 'Redis Cluster (3 masters), 3 instances' },
  },
  storm: {
    'storm-3': { instances: 3, redis: 'single', label: '3 instances on one redis-server' },
  },
  compression: {
    plain: { instances: 1, redis: null, label: 'product, permessage-deflate off (default)' },
    deflate: { instances: 1, redis: null, env: { WS_PER_MESSAGE_DEFLATE: 'true' }, label: 'product, WS_PER_MESSAGE_DEFLATE=true' },
  },
};

/** GET /health/ready until 200: in cluster mode that means the instance's Redis connection is up. */
async function waitReady(port, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/health/ready', timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode); });
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(0));
    });
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`instance on ${port}: /health/ready still ${status} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Start the layout's Redis (if any), then its instances in parallel, and wait
 * until every instance reports ready. sampleCpu() reads every instance's and
 * every Redis node's CPU (lib/proc.mjs procCpuMs) at (nearly) the same instant.
 */
export async function startGroup(layout, { secret }) {
  const redis = layout.redis ? await startRedis(layout.redis) : null;
  const base = TARGETS[layout.target ?? 'product'];
  const target = { ...base, env: () => ({ ...base.env(), ...(redis?.env ?? {}), ...(layout.env ?? {}) }) };
  const servers = [];
  try {
    const settled = await Promise.allSettled(Array.from({ length: layout.instances }, () => startServer(target, { secret })));
    for (const s of settled) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    await Promise.all(servers.map((s) => waitReady(s.port)));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.stop();
    throw err;
  }
  const expected = new Set(); // children whose exit is part of the scenario (storm's drain)
  const lastCpu = servers.map(() => 0); // an instance that exited keeps its last reading
  return {
    port: servers[0].port,
    ports: servers.map((s) => s.port),
    pid: servers[0].pid,
    child: servers[0].child,
    // Any of them exiting mid-run is a crash (Redis too: fan-out would silently
    // stop), unless the scenario asked for it through signal().
    children: [...servers.map((s) => s.child), ...(redis?.children ?? [])],
    expected,
    sampleCpu() {
      const perInstanceMs = servers.map((s, i) => {
        try { lastCpu[i] = procCpuMs(s.pid); } catch (err) { if (!expected.has(s.child)) throw err; }
        return lastCpu[i];
      });
      return { cpuMs: perInstanceMs.reduce((a, b) => a + b, 0), perInstanceMs, redisCpuMs: redis ? redis.cpuMs() : 0 };
    },
    /** Send `sig` to instance i; its exit is then expected, not a crash. */
    signal(i, sig) {
      expected.add(servers[i].child);
      servers[i].child.kill(sig);
    },
    mem: () => servers[0].mem(),
    /** Per-instance output tails (LOG_LEVEL=warn: anything here is worth a look). */
    logs: () => servers.map((s) => s.logTail()),
    redisCommandStats: () => (redis ? redis.commandStats() : null),
    logTail: () => [...servers.map((s, i) => `[instance ${i}]\n${s.logTail()}`), redis?.logTail() ?? ''].join('\n'),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      await redis?.stop();
    },
  };
}
