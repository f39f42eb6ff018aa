// Aggregate repeats (median; worst repeat for correctness counters; sum for
// counts of flagged runs) and render the main table: every ratio against the
// STRONGEST baseline for its row, i.e. the better of raw-ws and raw-ws-corked
// (lower for costs, higher for throughput), named in the table, with
// socket.io as a comparison column. The layout scenarios (cluster, storm,
// compression) have their own tables in report-layouts.mjs.
import { median, max, sum } from './stats.mjs';

// better: which direction is stronger ('low' cost, 'high' throughput); rows
// without it get no ratio. limit: issue 15's target on product / floor.
export const METRICS = [
  { sc: 'connect', key: 'cpuMsPerConn', label: 'server CPU ms / connection', better: 'low', limit: { le: 1.3 } },
  { sc: 'connect', key: 'handshakeP50', label: 'handshake p50 ms (connect → presence_state)', better: 'low', limit: { le: 1.5 } },
  { sc: 'connect', key: 'handshakeP99', label: 'handshake p99 ms', better: 'low' },
  { sc: 'connect', key: 'connPerSec', label: 'connections / s', better: 'high' },
  { sc: 'connect', key: 'connectFailed', label: 'failed connects (max)', limit: { zero: true } },
  { sc: 'connect', key: 'serverCpuShare', label: 'server CPU share of a core (closed loop)' },
  { sc: 'connect', key: 'genCpuShare', label: 'generator CPU share of a core' },
  { sc: 'connect', key: 'otherCpuCores', label: "other processes' CPU during the window, cores (noise)" },
  { sc: 'fanout', key: 'cpuUsPerDelivery', label: 'server CPU µs / delivery', better: 'low', limit: { le: 1.10 } },
  { sc: 'fanout', key: 'latP50', label: 'latency p50 ms', better: 'low' },
  { sc: 'fanout', key: 'latP99', label: 'latency p99 ms', better: 'low' },
  { sc: 'fanout', key: 'deliveriesPerSec', label: 'deliveries / s (offered load fixed)' },
  { sc: 'fanout', key: 'overloaded', label: 'overloaded runs (offered load not sustained)' },
  { sc: 'fanout', key: 'loss', label: 'lost deliveries (max; overloaded runs excluded)', limit: { zero: true } },
  { sc: 'fanout', key: 'dup', label: 'duplicates (max)', limit: { zero: true } },
  { sc: 'fanout', key: 'reorder', label: 'reordered (max)', limit: { zero: true } },
  { sc: 'fanout', key: 'echoOrInvalid', label: 'echoed / invalid (max)', limit: { zero: true } },
  { sc: 'fanout', key: 'serverCpuShare', label: 'server CPU share of a core' },
  { sc: 'fanout', key: 'genCpuShare', label: 'generator CPU share of a core' },
  { sc: 'fanout', key: 'otherCpuCores', label: "other processes' CPU during the window, cores (noise)" },
  // Closed loop: each side runs as fast as the pair goes, so a side whose generator saturates
  // is measured at another operating point; reported, judged on fanout-busy below.
  { sc: 'fanout-max', key: 'maxCpuUsPerDelivery', label: 'server CPU µs / delivery (closed loop, as fast as it goes)', better: 'low' },
  { sc: 'fanout-max', key: 'deliveredPerSec', label: 'delivered msgs / s', better: 'high' },
  { sc: 'fanout-max', key: 'stalled', label: 'incomplete msgs (max)', limit: { zero: true } },
  { sc: 'fanout-max', key: 'serverCpuShare', label: 'server CPU share of a core (closed loop)' },
  { sc: 'fanout-max', key: 'genCpuShare', label: 'generator CPU share of a core' },
  { sc: 'fanout-max', key: 'otherCpuCores', label: "other processes' CPU during the window, cores (noise)" },
  { sc: 'fanout-busy', key: 'busyCpuUsPerDelivery', label: (z) => `server CPU µs / delivery (busy room: ${z['fanout-busy'].burst} msgs every ${z['fanout-busy'].everyMs} ms)`, better: 'low', limit: { le: 1.15 } },
  { sc: 'fanout-busy', key: 'completionP50', label: 'message complete p50 ms (sent → all recipients)', better: 'low' },
  { sc: 'fanout-busy', key: 'completionP99', label: 'message complete p99 ms', better: 'low' },
  { sc: 'fanout-busy', key: 'deliveriesPerSec', label: 'deliveries / s (offered load fixed)' },
  { sc: 'fanout-busy', key: 'overloaded', label: 'overloaded runs (offered load not sustained)' },
  { sc: 'fanout-busy', key: 'stalled', label: 'incomplete msgs / echoes (max)', limit: { zero: true } },
  { sc: 'fanout-busy', key: 'serverCpuShare', label: 'server CPU share of a core' },
  { sc: 'fanout-busy', key: 'genCpuShare', label: 'generator CPU share of a core' },
  { sc: 'fanout-busy', key: 'otherCpuCores', label: "other processes' CPU during the window, cores (noise)" },
  { sc: 'idle', key: 'heapPerConn', label: (z) => `server JS heap bytes / idle conn at ${z.idle.conns.toLocaleString('en-US')}`, better: 'low', limit: { le: 1.15 } },
  { sc: 'idle', key: 'heapPerConn2', label: (z) => `server JS heap bytes / idle conn at ${z.idle.conns2.toLocaleString('en-US')}`, better: 'low', limit: { le: 1.15 }, when: (z) => z.idle.conns2 > z.idle.conns },
  { sc: 'idle', key: 'rssPerConn', label: (z) => `server RSS bytes / idle conn at ${z.idle.conns.toLocaleString('en-US')}`, better: 'low' },
  { sc: 'idle', key: 'rssPerConn2', label: (z) => `server RSS bytes / idle conn at ${z.idle.conns2.toLocaleString('en-US')}`, better: 'low', when: (z) => z.idle.conns2 > z.idle.conns },
];

export const FLOORS = ['raw-ws', 'raw-ws-corked'];

// How repeats combine, by metric key; anything else: median.
const WORST = new Set(['connectFailed', 'loss', 'dup', 'reorder', 'echoOrInvalid', 'stalled', 'resumeFailed']);
const COUNT = new Set(['overloaded']);
const LEAST = new Set(['negotiated', 'closed1012', 'withToken', 'resumed']); // must hold in every repeat

/** runs: [{scenario, target, metrics}] -> { [column]: { 'scenario.key': value } } */
export function aggregate(runs) {
  const out = {};
  for (const r of runs) {
    if (!r.metrics) continue;
    const col = (out[r.target] ??= {});
    for (const [k, v] of Object.entries(r.metrics)) if (typeof v === 'number' || v === null) (col[`${r.scenario}.${k}`] ??= []).push(v);
  }
  for (const col of Object.values(out)) {
    for (const [k, vals] of Object.entries(col)) {
      const key = k.slice(k.indexOf('.') + 1);
      const finite = vals.filter((x) => typeof x === 'number' && Number.isFinite(x));
      col[k] = WORST.has(key) ? max(vals) : COUNT.has(key) ? sum(vals) : LEAST.has(key) ? (finite.length ? Math.min(...finite) : null) : median(vals);
    }
  }
  return out;
}

export function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US'); // counts
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

export const ratio = (v, base) => (typeof v === 'number' && typeof base === 'number' && base !== 0 ? v / base : null);
export const fmtRatio = (r) => (r === null ? '—' : `${r.toFixed(2)}×`);

export function limitText(limit) {
  if (!limit) return '';
  if (limit.zero) return '= 0';
  return limit.le ? `≤ ${limit.le.toFixed(2)}×` : `≥ ${limit.ge.toFixed(2)}×`;
}

/** Verdict of one value / ratio. Smoke sizes cannot judge ratios; counters are judged always. */
export function verdict(limit, value, r, smoke) {
  if (!limit || value === null || value === undefined) return '';
  if (limit.zero) return value === 0 ? 'pass' : '**FAIL**';
  if (r === null) return '';
  if (smoke) return 'not judged (smoke)';
  return (limit.le ? r <= limit.le : r >= limit.ge) ? 'pass' : '**FAIL**';
}

/** The stronger of the two floors for a metric: [name, value] or [null, null]. */
export function floorOf(agg, k, better) {
  const cands = FLOORS.map((t) => [t, agg[t]?.[k]]).filter(([, v]) => typeof v === 'number');
  if (!better || cands.length === 0) return [null, null];
  return cands.reduce((a, b) => ((better === 'low' ? b[1] < a[1] : b[1] > a[1]) ? b : a));
}

/** The main table (connect, fanout, fanout-max, fanout-busy, idle). */
export function mainTable(agg, scenarios, sizes, { smoke = false } = {}) {
  const rows = [
    '| scenario | metric | raw-ws | raw-ws-corked | floor (strongest) | product | product / floor | target | product verdict | socket.io | socket.io / floor |',
    '|---|---|---:|---:|:---:|---:|---:|:---:|:---:|---:|---:|',
  ];
  for (const m of METRICS) {
    if (!scenarios.includes(m.sc) || (m.when && !m.when(sizes))) continue;
    const k = `${m.sc}.${m.key}`;
    const [floorName, floor] = floorOf(agg, k, m.better);
    const prod = agg.product?.[k];
    const sio = agg['socket.io']?.[k];
    const pr = ratio(prod, floor);
    const label = typeof m.label === 'function' ? m.label(sizes) : m.label;
    rows.push(`| ${m.sc} | ${label} | ${fmt(agg['raw-ws']?.[k])} | ${fmt(agg['raw-ws-corked']?.[k])} | ${floorName ?? ''} | ${fmt(prod)} | ${fmtRatio(pr)} | ${limitText(m.limit)} | ${verdict(m.limit, prod, pr, smoke)} | ${fmt(sio)} | ${fmtRatio(ratio(sio, floor))} |`);
  }
  return rows.join('\n');
}
