// Private Redis for the multi-instance layouts: one redis-server, or a 3-master
// Redis Cluster (redis-server --cluster-enabled yes x3, then
// `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`), the same
// way test/support/redis-harness.ts builds them for the e2e tests.
//
// Fresh per run (never FLUSHALL, never the shared 6379): every run starts from
// an empty Redis whose CPU counters saw no other run. Free 127.0.0.1 ports,
// persistence off so no disk write lands in a CPU figure.
// Handle: { kind, env (REDIS_URL or REDIS_CLUSTER_NODES for the instances),
//           pids, children, cpuMs() (sum over nodes), commandStats(), logTail(), stop() }
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.mjs';
import { procCpuMs, track } from './proc.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** null when the binaries a kind needs can be run, else why not (the layouts are then skipped). */
export function redisMissing(kind = 'single') {
  for (const bin of kind === 'cluster' ? ['redis-server', 'redis-cli'] : ['redis-server']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return `${bin} not runnable (${r.error?.code ?? `exit ${r.status}`}); install it (Debian: redis-server, redis-tools)`;
  }
  return null;
}

/** One inline command over RESP; resolves with the raw reply text ('' on failure). */
function command(port, cmd, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(timeoutMs, () => done(''));
    s.once('error', () => done(''));
    s.once('connect', () => s.write(`${cmd}\r\n`));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf[0] !== '$') { if (buf.endsWith('\r\n')) done(buf); return; }
      const nl = buf.indexOf('\r\n'); // bulk reply: wait for the announced length
      if (nl > 0 && buf.length >= nl + 2 + Number(buf.slice(1, nl))) done(buf);
    });
  });
}

/** One redis-server process on a free port. */
async function startNode(extraArgs = () => []) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
  const child = track(spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--protected-mode', 'no', '--dir', dir, '--loglevel', 'warning', ...extraArgs(port, dir),
  ], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const tail = [];
  const keep = (c) => { for (const l of c.toString().split('\n')) if (l) tail.push(l); if (tail.length > 20) tail.splice(0, tail.length - 20); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exitInfo = null;
  child.once('exit', (code, signal) => { exitInfo = { code, signal }; });
  const node = {
    port, pid: child.pid, child, logTail: () => tail.join('\n'),
    async stop() {
      if (!exitInfo) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL'); // no persistence: nothing to lose, nothing to wait for
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  while (!(await command(port, 'PING', 1000)).startsWith('+PONG')) {
    if (exitInfo || Date.now() > deadline) {
      await node.stop();
      throw new Error(`redis-server on ${port} not ready (${JSON.stringify(exitInfo)}):\n${tail.join('\n')}`);
    }
    await sleep(50);
  }
  return node;
}

/** `INFO commandstats` of one node as { command: calls }. */
async function commandStats(port) {
  const out = {};
  for (const m of (await command(port, 'INFO commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

function clusterCreate(ports) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve()));
  });
}

/**
 * @param {'single'|'cluster'} kind
 */
export async function startRedis(kind) {
  const nodes = [];
  try {
    if (kind === 'single') nodes.push(await startNode());
    else {
      const clusterArgs = (port, dir) => ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'];
      nodes.push(...await Promise.all([0, 1, 2].map(() => startNode(clusterArgs))));
      await clusterCreate(nodes.map((n) => n.port));
      const deadline = Date.now() + 20_000;
      for (;;) { // every node sees the whole cluster, every slot served
        const infos = await Promise.all(nodes.map((n) => command(n.port, 'CLUSTER INFO')));
        if (infos.every((i) => /cluster_state:ok/.test(i) && /cluster_known_nodes:3\b/.test(i))) break;
        if (Date.now() > deadline) throw new Error(`Redis Cluster not ok after 20 s:\n${infos.join('\n')}`);
        await sleep(100);
      }
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return {
    kind,
    env: kind === 'single'
      ? { REDIS_URL: `redis://127.0.0.1:${nodes[0].port}` }
      : { REDIS_CLUSTER_NODES: nodes.map((n) => `127.0.0.1:${n.port}`).join(',') },
    pids: nodes.map((n) => n.pid),
    children: nodes.map((n) => n.child),
    /** CPU ms of all nodes together (the bus as a whole). */
    cpuMs: () => nodes.reduce((a, n) => a + procCpuMs(n.pid), 0),
    /** Calls per command summed over the nodes (set-up included). */
    async commandStats() {
      const out = {};
      for (const s of await Promise.all(nodes.map((n) => commandStats(n.port)))) for (const [k, v] of Object.entries(s)) out[k] = (out[k] ?? 0) + v;
      return out;
    },
    logTail: () => nodes.map((n, i) => `[redis ${i}]\n${n.logTail()}`).join('\n'),
    stop: () => Promise.all(nodes.map((n) => n.stop())),
  };
}
