// The `cluster` scenario's servers: a private redis-server and K product
// instances pointing at it (REDIS_URL), handed to the generator as one group
// with the same shape as a startServer() handle plus `ports` and sampleCpu().
//
// A fresh redis-server per run (not FLUSHALL between runs): every run starts
// from an empty Redis AND its Redis CPU counter starts from a process that saw
// no other run. It listens on a free 127.0.0.1 port, never on the shared 6379,
// with persistence off so no disk write lands in a CPU figure.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, startServer } from './server.mjs';
import { TARGETS } from './targets.mjs';
import { procCpuMs, track } from './proc.mjs';

/** Cluster "targets": product instances sharing one Redis. Order = column order. */
export const CLUSTER_CONFIGS = { 'product-redis-1': 1, 'product-redis-2': 2 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** null when redis-server can be run, else why not (the scenario is then skipped, not failed). */
export function redisMissing() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `redis-server not runnable (${r.error?.code ?? `exit ${r.status}`}); install it (Debian: redis-server)`;
  return null;
}

/** One inline PING over RESP; true on +PONG. (No redis-cli needed.) */
function ping(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/**
 * `INFO commandstats` as { command: calls }: which commands the product sends
 * per room message explains the Redis CPU figure. Read over RESP (bulk reply).
 */
function commandStats(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(2000, () => done(null));
    s.once('error', () => done(null));
    s.once('connect', () => s.write('INFO commandstats\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\r\n');
      if (nl < 0 || buf.length < nl + 2 + Number(buf.slice(1, nl))) return;
      const out = {};
      for (const m of buf.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
      done(out);
    });
  });
}

async function startRedis({ readyTimeoutMs = 10_000 } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
  const child = track(spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--loglevel', 'warning',
  ], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const tail = [];
  const keep = (c) => { for (const l of c.toString().split('\n')) if (l) tail.push(l); if (tail.length > 20) tail.splice(0, tail.length - 20); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exitInfo = null;
  child.once('exit', (code, signal) => { exitInfo = { code, signal }; });
  const stop = async () => {
    if (!exitInfo) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await ping(port))) {
    if (exitInfo || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server on ${port} not ready (${JSON.stringify(exitInfo)}):\n${tail.join('\n')}`);
    }
    await sleep(50);
  }
  return { port, pid: child.pid, child, url: `redis://127.0.0.1:${port}`, logTail: () => tail.join('\n'), commandStats: () => commandStats(port), stop };
}

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
 * Start a private Redis and `instances` product instances on it (in parallel),
 * wait until every instance reports ready. The handle's sampleCpu() reads every
 * instance's and Redis's /proc/<pid>/stat at (nearly) the same instant.
 */
export async function startCluster(instances, { secret }) {
  const redis = await startRedis();
  const product = TARGETS.product;
  const target = { ...product, env: () => ({ ...product.env(), REDIS_URL: redis.url }) };
  const servers = [];
  try {
    const settled = await Promise.allSettled(Array.from({ length: instances }, () => startServer(target, { secret })));
    for (const s of settled) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    await Promise.all(servers.map((s) => waitReady(s.port)));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    await redis.stop();
    throw err;
  }
  const ports = servers.map((s) => s.port);
  return {
    port: ports[0],
    ports,
    pid: servers[0].pid,
    pids: servers.map((s) => s.pid),
    redisPid: redis.pid,
    child: servers[0].child,
    // Any of them exiting mid-run is a crash; Redis too (fan-out would silently stop).
    children: [...servers.map((s) => s.child), redis.child],
    sampleCpu() {
      const perInstanceMs = servers.map((s) => procCpuMs(s.pid));
      return { cpuMs: perInstanceMs.reduce((a, b) => a + b, 0), perInstanceMs, redisCpuMs: procCpuMs(redis.pid) };
    },
    /** Per-instance output tails (LOG_LEVEL=warn: anything here is worth a look). */
    logs: () => servers.map((s) => s.logTail()),
    /** Calls per Redis command over the whole run (set-up included). */
    redisCommandStats: () => redis.commandStats(),
    logTail: () => [...servers.map((s, i) => `[instance ${i}]\n${s.logTail()}`), `[redis]\n${redis.logTail()}`].join('\n'),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      await redis.stop();
    },
  };
}
