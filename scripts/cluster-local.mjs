#!/usr/bin/env node
// Runs the demo app in cluster mode on one machine: a Redis of its own (a single server, or a
// 3-master Redis Cluster with --cluster) and N instances on consecutive ports. Ctrl-C stops all.
//
//   node scripts/cluster-local.mjs [instances=3] [--base-port 3001] [--redis-port 6390] [--cluster]
//
// REDIS_URL set: that Redis is used instead of starting one. Needs `npm run build` first and
// redis-server / redis-cli on the PATH. Instances run with DEMO_MODE=true (GET /demo/token).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !['--base-port', '--redis-port'].includes(args[i - 1]));
const count = Number(positional[0] ?? 3);
const basePort = Number(flag('--base-port', 3001));
const redisPort = Number(flag('--redis-port', 6390));
const clusterMode = args.includes('--cluster');

if (!existsSync(join(root, 'dist/main.js'))) {
  console.error('dist/main.js is missing: run `npm run build` first');
  process.exit(1);
}

const children = [];
const dirs = [];
let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children.reverse()) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  }, 1500);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

function run(name, cmd, cmdArgs, env = {}) {
  const child = spawn(cmd, cmdArgs, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (chunk) => chunk.toString().split('\n').filter(Boolean).map((l) => `[${name}] ${l}`).join('\n') + '\n';
  child.stdout.on('data', (c) => process.stdout.write(prefix(c)));
  child.stderr.on('data', (c) => process.stderr.write(prefix(c)));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[${name}] exited (${signal ?? code}); stopping everything`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

async function waitForRedis(port) {
  for (let i = 0; i < 100; i++) {
    try {
      if (execFileSync('redis-cli', ['-p', String(port), 'PING'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() === 'PONG') return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-server on ${port} did not start`);
}

function startRedisServer(port, extra = []) {
  const dir = mkdtempSync(join(tmpdir(), `cm-local-redis-${port}-`));
  dirs.push(dir);
  run(`redis:${port}`, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra]);
  return waitForRedis(port);
}

let redisEnv;
if (process.env.REDIS_URL) {
  redisEnv = { REDIS_URL: process.env.REDIS_URL };
} else if (clusterMode) {
  const ports = [redisPort, redisPort + 1, redisPort + 2];
  await Promise.all(ports.map((p) => startRedisServer(p, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${p}.conf`, '--cluster-node-timeout', '2000'])));
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'inherit' });
  redisEnv = { REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(',') };
} else {
  await startRedisServer(redisPort);
  redisEnv = { REDIS_URL: `redis://127.0.0.1:${redisPort}` };
}

for (let i = 0; i < count; i++) {
  const port = basePort + i;
  run(`app:${port}`, process.execPath, ['dist/main.js'], {
    PORT: String(port),
    HOST: process.env.HOST ?? '127.0.0.1',
    JWT_SECRET: process.env.JWT_SECRET ?? 'dev-only-secret-change-me-0123456789',
    DEMO_MODE: process.env.DEMO_MODE ?? 'true',
    ...redisEnv,
  });
}
console.log(`cluster-local: ${count} instances on ports ${basePort}-${basePort + count - 1}, ${Object.entries(redisEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`);
