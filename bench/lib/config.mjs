// Command-line flags and scenario sizes. Everything tunable lives here so the
// full and --smoke runs differ only by data, never by code path.
//
//   --smoke              tiny sizes, 1 repeat, must finish in < 90 s
//   --only=a,b           scenarios subset (connect,fanout,fanout-max,idle,cluster)
//   --targets=a,b        targets subset (product,raw-ws,socket.io)
//   --repeats=N          repeats per (scenario,target); medians are reported
//   --build              force `npm run build` for the product even if dist/main.js exists
//   --set=sc.key=N       override one numeric size, e.g. --set=idle.conns=10000 (repeatable)

export const ALL_SCENARIOS = ['connect', 'fanout', 'fanout-max', 'idle', 'cluster'];
export const ALL_TARGETS = ['raw-ws', 'product', 'socket.io'];

// cluster runs exactly the fanout load (same object), so its figures sit next
// to the in-memory product's fanout figures from the same run.
const FULL_FANOUT = { users: 100, rateHz: 5, warmupSec: 2, durationSec: 10, drainMs: 2000, maxDrainMs: 30000 };
const SMOKE_FANOUT = { users: 20, rateHz: 5, warmupSec: 0.5, durationSec: 2, drainMs: 1000, maxDrainMs: 5000 };

const FULL = {
  repeats: 3,
  connect: { conns: 2000, concurrency: 50, roomSize: 10 },
  fanout: FULL_FANOUT,
  // Closed loop: at most `window` messages in flight (a message is in flight
  // until all users-1 recipients got it).
  'fanout-max': { users: 100, window: 32, warmupSec: 2, durationSec: 10, drainMs: 3000 },
  idle: { conns: 5000, concurrency: 50, roomSize: 10, warmupConns: 20 },
  cluster: FULL_FANOUT,
};

const SMOKE = {
  repeats: 1,
  connect: { conns: 100, concurrency: 20, roomSize: 10 },
  fanout: SMOKE_FANOUT,
  'fanout-max': { users: 20, window: 16, warmupSec: 0.5, durationSec: 2, drainMs: 1000 },
  idle: { conns: 200, concurrency: 20, roomSize: 10, warmupConns: 5 },
  cluster: SMOKE_FANOUT,
};

function list(value, allowed, flag) {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const it of items) {
    if (!allowed.includes(it)) throw new Error(`${flag}: unknown "${it}" (allowed: ${allowed.join(', ')})`);
  }
  return items;
}

export function parseArgs(argv) {
  const opts = { smoke: false, build: false, only: null, targets: null, repeats: null, set: [] };
  for (const arg of argv) {
    const [k, v] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, ''];
    if (k === '--smoke') opts.smoke = true;
    else if (k === '--build') opts.build = true;
    else if (k === '--only') opts.only = list(v, ALL_SCENARIOS, '--only');
    else if (k === '--targets') opts.targets = list(v, ALL_TARGETS, '--targets');
    else if (k === '--repeats') {
      opts.repeats = Number.parseInt(v, 10);
      if (!(opts.repeats >= 1 && opts.repeats <= 50)) throw new Error('--repeats must be an integer 1..50');
    } else if (k === '--set') {
      const m = /^([a-z-]+)\.([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(v);
      if (!m) throw new Error('--set must look like scenario.key=number (e.g. idle.conns=10000)');
      opts.set.push([m[1], m[2], Number(m[3])]);
    } else if (k === '--help' || k === '-h') opts.help = true;
    else throw new Error(`unknown flag ${arg}`);
  }
  // A copy, so --set never changes the shared defaults (cluster shares fanout's object).
  const sizes = structuredClone(opts.smoke ? SMOKE : FULL);
  for (const [sc, key, value] of opts.set) {
    if (!sizes[sc] || typeof sizes[sc][key] !== 'number') throw new Error(`--set: unknown size ${sc}.${key}`);
    sizes[sc][key] = value;
  }
  return {
    smoke: opts.smoke,
    build: opts.build,
    help: !!opts.help,
    repeats: opts.repeats ?? sizes.repeats,
    scenarios: opts.only ?? ALL_SCENARIOS,
    targets: opts.targets ?? ALL_TARGETS,
    targetsExplicit: opts.targets !== null,
    sizes,
  };
}

export const USAGE = `usage: node bench/run.mjs [--smoke] [--only=connect,fanout,fanout-max,idle,cluster] \\
       [--targets=raw-ws,product,socket.io] [--repeats=N] [--build] [--set=idle.conns=10000]
cluster runs the product only (1 vs 2 instances on a private redis-server; skipped without redis-server).`;
