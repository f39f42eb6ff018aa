// Command-line flags and scenario sizes. Everything tunable lives here so the
// full and --smoke runs differ only by data, never by code path.
//
//   --smoke              tiny sizes, 1 repeat, must finish in < 2 min (CI; ~75 s on an idle machine)
//   --only=a,b           scenarios subset (connect,fanout,fanout-max,fanout-busy,idle,cluster,storm,compression)
//   --targets=a,b        targets subset (raw-ws,raw-ws-corked,product,socket.io) for
//                        connect/fanout/fanout-max/fanout-busy/idle; the layout scenarios
//                        (cluster, storm, compression) run the product only
//   --layouts=a,b        cluster layouts subset (mem,redis-1,floor-mem,floor-redis-1,redis-2,redis-3,rcluster-1,rcluster-2,rcluster-3;
//                        floor-redis-behind only when named)
//   --repeats=N          repeats per (scenario, target); medians are reported
//   --steady-retries=N   re-runs of a run whose CPU probe (right before it) was over
//                        1.3× the best probe of the session (a throttled moment of the
//                        host), 0..5; default 2 (smoke 0); every discarded run is listed
//   --sequential         run every scenario one column at a time, each window in one piece
//                        (rounds 1-9's method); by default connect, fanout, fanout-busy and
//                        cluster run their columns interleaved (lib/turns.mjs), in slices
//   --build              force `npm run build` for the product even if dist/main.js exists
//   --set=sc.key=N       override one numeric size, e.g. --set=idle.conns2=0 (repeatable)
import { LAYOUTS } from './cluster.mjs';

export const ALL_SCENARIOS = ['connect', 'fanout', 'fanout-max', 'fanout-busy', 'idle', 'cluster', 'storm', 'compression'];
export const ALL_TARGETS = ['raw-ws', 'raw-ws-corked', 'product', 'socket.io'];
export const LAYOUT_SCENARIOS = Object.keys(LAYOUTS); // columns are product layouts, not targets
const ALL_CLUSTER_LAYOUTS = Object.keys(LAYOUTS.cluster);
// Layouts marked optIn (design experiments, not rows of the issue) run only when named in --layouts.
const DEFAULT_CLUSTER_LAYOUTS = ALL_CLUSTER_LAYOUTS.filter((l) => !LAYOUTS.cluster[l].optIn);

// cluster runs exactly the fanout load (same sizes), so its in-memory layout
// and the fanout scenario's product column measure the same thing.
// sliceSec / slices: the measured window's pieces when the columns run interleaved (dropped by
// --sequential). A slice is long enough for a steady load (5 messages per sender at 5 Hz; 200
// bursts in the busy room; 250 connects) and short enough that a slow spell of the host covers
// slices of every column.
const FULL_FANOUT = { users: 100, rateHz: 5, warmupSec: 2, durationSec: 10, sliceSec: 1, drainMs: 2000, maxDrainMs: 30000 };
const SMOKE_FANOUT = { users: 20, rateHz: 5, warmupSec: 0.4, durationSec: 1.2, sliceSec: 0.4, drainMs: 1000, maxDrainMs: 5000 };

const FULL = {
  repeats: 3,
  steadyRetries: 2,
  // Closed loop at `concurrency`: the server runs at its limit by design (issue 15's row).
  // warmupConns connects first (closed, then settleMs of quiet): the window measures a warm server.
  connect: { conns: 2000, concurrency: 50, roomSize: 10, warmupConns: 2000, settleMs: 1500, slices: 8 },
  fanout: FULL_FANOUT,
  // Closed loop: at most `window` messages in flight (a message is in flight
  // until all users-1 recipients got it): busy rooms, many frames per turn.
  'fanout-max': { users: 100, window: 32, warmupSec: 2, durationSec: 10, drainMs: 3000 },
  // Open loop at a fixed load: `burst` messages at once every `everyMs` (3,200 messages,
  // 316,800 deliveries / s for 100 users), about 40 % of the floor's closed-loop maximum, so
  // neither the server nor the generator saturates while many frames meet in one turn.
  'fanout-busy': { users: 100, burst: 16, everyMs: 5, warmupSec: 2, durationSec: 10, sliceSec: 1, drainMs: 3000 },
  // Heap per idle conn at `conns`, then at `conns2` in total (0 = skip).
  idle: { conns: 5000, conns2: 10000, concurrency: 50, roomSize: 10, warmupConns: 20 },
  cluster: FULL_FANOUT,
  // `clients` on A drained and resumed on B/C; `freshConns` fresh connects on B/C as the reference.
  storm: { clients: 1000, roomSize: 10, freshConns: 1000, settleMs: 1000, maxStormMs: 30000 },
  // The fanout load with a cursor/stroke/presence mix through deflate-offering clients.
  compression: { users: 30, rateHz: 5, strokePct: 20, presenceEveryMs: 1000, warmupSec: 2, durationSec: 10, drainMs: 2000, maxDrainMs: 30000 },
};

const SMOKE = {
  repeats: 1,
  steadyRetries: 0,
  connect: { conns: 100, concurrency: 20, roomSize: 10, warmupConns: 20, settleMs: 200, slices: 2 },
  fanout: SMOKE_FANOUT,
  'fanout-max': { users: 20, window: 16, warmupSec: 0.3, durationSec: 1, drainMs: 1000 },
  'fanout-busy': { users: 20, burst: 4, everyMs: 5, warmupSec: 0.3, durationSec: 1, sliceSec: 0.5, drainMs: 1000 },
  idle: { conns: 200, conns2: 400, concurrency: 20, roomSize: 10, warmupConns: 5 },
  cluster: SMOKE_FANOUT,
  storm: { clients: 60, roomSize: 10, freshConns: 60, settleMs: 300, maxStormMs: 15000 },
  compression: { users: 10, rateHz: 5, strokePct: 20, presenceEveryMs: 400, warmupSec: 0.4, durationSec: 1.2, drainMs: 1000, maxDrainMs: 5000 },
};

// Smoke exercises every code path (group without Redis, redis-server, Redis
// Cluster, several instances, the floor with its room log on Redis), not every size.
const SMOKE_CLUSTER_LAYOUTS = ['mem', 'redis-2', 'rcluster-2', 'floor-mem', 'floor-redis-1'];

function list(value, allowed, flag) {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const it of items) {
    if (!allowed.includes(it)) throw new Error(`${flag}: unknown "${it}" (allowed: ${allowed.join(', ')})`);
  }
  return items;
}

export function parseArgs(argv) {
  const opts = { smoke: false, build: false, sequential: false, only: null, targets: null, layouts: null, repeats: null, steadyRetries: null, set: [] };
  for (const arg of argv) {
    const [k, v] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, ''];
    if (k === '--smoke') opts.smoke = true;
    else if (k === '--build') opts.build = true;
    else if (k === '--sequential') opts.sequential = true;
    else if (k === '--only') opts.only = list(v, ALL_SCENARIOS, '--only');
    else if (k === '--targets') opts.targets = list(v, ALL_TARGETS, '--targets');
    else if (k === '--layouts') opts.layouts = list(v, ALL_CLUSTER_LAYOUTS, '--layouts');
    else if (k === '--repeats') {
      opts.repeats = Number.parseInt(v, 10);
      if (!(opts.repeats >= 1 && opts.repeats <= 50)) throw new Error('--repeats must be an integer 1..50');
    } else if (k === '--steady-retries') {
      opts.steadyRetries = Number.parseInt(v, 10);
      if (!(opts.steadyRetries >= 0 && opts.steadyRetries <= 5)) throw new Error('--steady-retries must be an integer 0..5');
    } else if (k === '--set') {
      const m = /^([a-z-]+)\.([A-Za-z0-9]+)=(\d+(?:\.\d+)?)$/.exec(v);
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
  if (opts.sequential) for (const sc of ALL_SCENARIOS) { delete sizes[sc].sliceSec; delete sizes[sc].slices; }
  return {
    smoke: opts.smoke,
    build: opts.build,
    interleave: !opts.sequential,
    help: !!opts.help,
    repeats: opts.repeats ?? sizes.repeats,
    steadyRetries: opts.steadyRetries ?? sizes.steadyRetries,
    scenarios: opts.only ?? ALL_SCENARIOS,
    targets: opts.targets ?? ALL_TARGETS,
    targetsExplicit: opts.targets !== null,
    clusterLayouts: opts.layouts ?? (opts.smoke ? SMOKE_CLUSTER_LAYOUTS : DEFAULT_CLUSTER_LAYOUTS),
    sizes,
  };
}

export const USAGE = `usage: node bench/run.mjs [--smoke] [--only=connect,fanout,fanout-max,fanout-busy,idle,cluster,storm,compression] \\
       [--targets=raw-ws,raw-ws-corked,product,socket.io] [--layouts=mem,redis-1,…,rcluster-3] \\
       [--repeats=N] [--steady-retries=N] [--sequential] [--build] [--set=idle.conns2=0]
cluster, storm and compression run product layouts (cluster/storm need redis-server; rcluster-* also redis-cli).`;
