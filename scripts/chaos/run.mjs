#!/usr/bin/env node
// Chaos run (issue 16): a rolling deploy behind a real load balancer, with zero loss.
//
//   npm run chaos                                    # long: 200 clients, ≥ 90 s, single Redis then Redis Cluster
//   node scripts/chaos/run.mjs --scenario=short      # 30 s of load, ≈ 45 s per Redis kind (what the test command runs)
//   node scripts/chaos/run.mjs --redis=cluster --json=/tmp/chaos.json
//
// Topology: a private redis-server (or 3-master Redis Cluster), 3 instances of the demo app
// (`node dist/main.js`, WS_TRUST_PROXY=1) on it, nginx in front (nginx.mjs), all on free
// 127.0.0.1 ports, from a private copy of dist/ (dist-snapshot.mjs). Load: SDK clients (dist/sdk/client) in rooms, a stroke each every 1/hz s
// with send() (load-worker.mjs). Faults while the load runs (faults.mjs). Then the sending stops,
// the run waits for quiescence (every client connected, every send settled, deliveries no longer
// changing), checks presence after the instance lease, and the checker (checker.mjs) compares
// what every member received with what every sender sent (scenario-run.mjs, once per Redis kind).
//
// Flags: --scenario=long|short  --redis=single|cluster|both (both)  --clients --rooms --hz
//        --workers --load-sec (override the scenario)  --sdk='{"json":"merged into connect()"}'
//        --log-bound=N (room log bound in messages, default the instances' WS_RESUME_BUFFER_MESSAGES
//        or 500: a truncated resume past it is no failure)
//        --instance-env='{"WS_X":"…"}'  --json=<file> (the full result)  --watch-stdin (exit
//        when stdin closes: for a parent test process)  --no-snapshot (run dist/ itself)
// Prints a Markdown report on stdout (progress on stderr); exit 0 when every figure is clean,
// 1 when the checker found a failure, 2 when the harness itself failed.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { installCleanup } from '../../bench/lib/proc.mjs';
import { redisMissing } from '../../bench/lib/redis.mjs';
import { distMissing, liveDist, snapshotDist } from './dist-snapshot.mjs';
import { nginxBinary } from './nginx.mjs';
import { markdownReport } from './report.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { runOne } from './scenario-run.mjs';

function parseArgs(argv) {
  const o = { scenario: 'long', redis: 'both', json: null, sdk: {}, logBound: null, instanceEnv: {}, watchStdin: false, snapshot: true, overrides: {} };
  for (const arg of argv) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`bad argument ${arg}`);
    const [, k, v] = m;
    if (k === 'scenario') o.scenario = v;
    else if (k === 'redis') o.redis = v;
    else if (k === 'json') o.json = v;
    else if (k === 'sdk') o.sdk = JSON.parse(v);
    else if (k === 'instance-env') o.instanceEnv = JSON.parse(v);
    else if (k === 'log-bound') o.logBound = Number(v);
    else if (k === 'watch-stdin') o.watchStdin = true;
    else if (k === 'no-snapshot') o.snapshot = false;
    else if (['clients', 'rooms', 'hz', 'workers', 'load-sec'].includes(k)) o.overrides[k === 'load-sec' ? 'minLoadSec' : k] = Number(v);
    else throw new Error(`unknown flag --${k}`);
  }
  if (!SCENARIOS[o.scenario]) throw new Error(`--scenario must be one of ${Object.keys(SCENARIOS).join(', ')}`);
  if (!['single', 'cluster', 'both'].includes(o.redis)) throw new Error('--redis must be single, cluster or both');
  return o;
}

/** The commit and whether src/ or client/ had uncommitted changes (the figures belong to that code). */
function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'client'], { encoding: 'utf8' }).trim().length > 0;
    return { commit, dirty };
  } catch {
    return {};
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  installCleanup();
  if (opts.watchStdin) {
    process.stdin.on('end', () => process.exit(70));
    process.stdin.resume();
  }
  const missing = [
    distMissing(),
    nginxBinary() ? null : 'nginx (apt-get install -y nginx-light)',
    redisMissing(opts.redis === 'single' ? 'single' : 'cluster'),
  ].filter(Boolean);
  if (missing.length > 0) {
    console.error(`missing: ${missing.join('; ')}`);
    process.exit(2);
  }
  const sc = { ...SCENARIOS[opts.scenario], ...opts.overrides };
  const kinds = opts.redis === 'both' ? ['single', 'cluster'] : [opts.redis];
  const results = [];
  const dist = opts.snapshot ? snapshotDist() : liveDist();
  const build = { distBuiltAt: dist.builtAt, ...gitState() }; // the code as it is when dist/ is copied
  process.on('exit', dist.remove);
  for (const kind of kinds) results.push(await runOne(kind, sc, opts, dist));
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    argv: process.argv.slice(2),
    build,
    results,
  };
  if (opts.json) writeFileSync(opts.json, JSON.stringify(out, null, 2));
  console.log(markdownReport(out));
  process.exit(results.some((r) => r.failures.length > 0) ? 1 : 0);
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(2);
});
