// Aggregate repeats (median, or worst case for correctness counters), compute
// ratios against raw-ws from the same run, check the thresholds for
// product, and render one Markdown table plus notes. The cluster scenario has
// its own table: its columns are product set-ups, not servers (see below).
import { median, max, sum } from './stats.mjs';

// agg: how repeats are combined (median; max = worst repeat; sum = count);
// limit: threshold on product/raw-ws ratio ({le} or {ge}), or {zero:true}.
export const METRICS = [
  { sc: 'connect', key: 'cpuMsPerConn', label: 'server CPU ms / connection', agg: 'median', limit: { le: 1.4 } },
  { sc: 'connect', key: 'connPerSec', label: 'connections / s', agg: 'median' },
  { sc: 'connect', key: 'handshakeP50', label: 'handshake p50 ms', agg: 'median' },
  { sc: 'connect', key: 'handshakeP99', label: 'handshake p99 ms', agg: 'median' },
  { sc: 'connect', key: 'connectFailed', label: 'failed connects (max)', agg: 'max', limit: { zero: true } },
  { sc: 'fanout', key: 'cpuUsPerDelivery', label: 'server CPU µs / delivery', agg: 'median', limit: { le: 1.15 } },
  { sc: 'fanout', key: 'latP50', label: 'latency p50 ms', agg: 'median' },
  { sc: 'fanout', key: 'latP99', label: 'latency p99 ms', agg: 'median' },
  { sc: 'fanout', key: 'overloaded', label: 'overloaded runs (offered load not sustained)', agg: 'sum' },
  { sc: 'fanout', key: 'loss', label: 'lost deliveries (max; overloaded runs excluded)', agg: 'max', limit: { zero: true } },
  { sc: 'fanout', key: 'dup', label: 'duplicates (max)', agg: 'max', limit: { zero: true } },
  { sc: 'fanout', key: 'reorder', label: 'reordered (max)', agg: 'max', limit: { zero: true } },
  { sc: 'fanout', key: 'echoOrInvalid', label: 'echoed / invalid (max)', agg: 'max', limit: { zero: true } },
  { sc: 'fanout', key: 'deliveriesPerSec', label: 'deliveries / s', agg: 'median' },
  { sc: 'fanout-max', key: 'deliveredPerSec', label: 'delivered msgs / s', agg: 'median', limit: { ge: 0.85 } },
  { sc: 'fanout-max', key: 'maxCpuUsPerDelivery', label: 'server CPU µs / delivery', agg: 'median' },
  { sc: 'fanout-max', key: 'serverCpuShare', label: 'server CPU share of a core', agg: 'median' },
  { sc: 'fanout-max', key: 'stalled', label: 'incomplete msgs (max)', agg: 'max', limit: { zero: true } },
  { sc: 'idle', key: 'rssPerConn', label: 'server RSS bytes / conn', agg: 'median' },
  { sc: 'idle', key: 'heapPerConn', label: 'server JS heap bytes / conn', agg: 'median', limit: { le: 1.6 } },
];

export const COLUMNS = ['raw-ws', 'product', 'socket.io'];

// cluster: the fanout load on 1 product instance on Redis vs 2 sharing it.
// `ctx` names the in-memory product's fanout figure from the same run, shown
// for context (what Redis itself costs); limit is on redis-2 / redis-1.
export const CLUSTER_METRICS = [
  { key: 'cpuUsPerDelivery', label: 'server CPU µs / delivery (sum of instances)', agg: 'median', limit: { le: 1.5 }, ctx: 'fanout.cpuUsPerDelivery' },
  { key: 'redisCpuUsPerDelivery', label: 'Redis CPU µs / delivery', agg: 'median' },
  { key: 'totalCpuUsPerDelivery', label: 'servers + Redis CPU µs / delivery', agg: 'median', ctx: 'fanout.cpuUsPerDelivery' },
  { key: 'maxInstanceCpuShare', label: 'busiest instance CPU share of a core', agg: 'median', ctx: 'fanout.serverCpuShare' },
  { key: 'redisCpuShare', label: 'Redis CPU share of a core', agg: 'median' },
  { key: 'deliveriesPerSec', label: 'deliveries / s', agg: 'median', ctx: 'fanout.deliveriesPerSec' },
  { key: 'latP50', label: 'latency p50 ms', agg: 'median', ctx: 'fanout.latP50' },
  { key: 'latP99', label: 'latency p99 ms', agg: 'median', ctx: 'fanout.latP99' },
  { key: 'overloaded', label: 'overloaded runs (offered load not sustained)', agg: 'sum', ctx: 'fanout.overloaded' },
  { key: 'loss', label: 'lost deliveries (max; overloaded runs excluded)', agg: 'max', limit: { zero: true }, ctx: 'fanout.loss' },
  { key: 'dup', label: 'duplicates (max)', agg: 'max', limit: { zero: true }, ctx: 'fanout.dup' },
  { key: 'reorder', label: 'reordered (max)', agg: 'max', limit: { zero: true }, ctx: 'fanout.reorder' },
  { key: 'echoOrInvalid', label: 'echoed / invalid (max)', agg: 'max', limit: { zero: true }, ctx: 'fanout.echoOrInvalid' },
].map((m) => ({ ...m, sc: 'cluster' }));
export const CLUSTER_COLUMNS = ['product-redis-1', 'product-redis-2'];

/** runs: [{scenario, target, metrics}] (failed runs have no metrics). */
export function aggregate(runs) {
  const out = {};
  const all = [...METRICS.map((m) => [m, COLUMNS]), ...CLUSTER_METRICS.map((m) => [m, CLUSTER_COLUMNS])];
  // fanout's server CPU share is not in METRICS' table but is the cluster table's context.
  all.push([{ sc: 'fanout', key: 'serverCpuShare', agg: 'median' }, ['product']]);
  for (const [m, cols] of all) {
    for (const t of cols) {
      const vals = runs.filter((r) => r.scenario === m.sc && r.target === t && r.metrics).map((r) => r.metrics[m.key]);
      if (vals.length === 0) continue;
      out[t] ??= {};
      out[t][`${m.sc}.${m.key}`] = m.agg === 'max' ? max(vals) : m.agg === 'sum' ? sum(vals) : median(vals);
    }
  }
  return out;
}

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US'); // counts
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

const ratio = (v, base) => (typeof v === 'number' && typeof base === 'number' && base !== 0 ? v / base : null);
const fmtRatio = (r) => (r === null ? '—' : `${r.toFixed(2)}×`);

function limitText(limit) {
  if (!limit) return '';
  if (limit.zero) return '= 0';
  return limit.le ? `≤ ${limit.le}×` : `≥ ${limit.ge}×`;
}

// Smoke sizes (tens of connections, 10 ms CPU ticks) cannot judge a ratio target; the
// correctness counters (loss, duplicates, …) are judged whatever the size.
let smokeRun = false;

function verdict(limit, value, r) {
  if (!limit || value === null || value === undefined) return '';
  if (limit.zero) return value === 0 ? 'pass' : '**FAIL**';
  if (r === null) return '';
  if (smokeRun) return 'not judged (smoke)';
  return (limit.le ? r <= limit.le : r >= limit.ge) ? 'pass' : '**FAIL**';
}

/** Markdown table(s) for the selected scenarios. */
export function renderTable(agg, scenarios, { smoke = false } = {}) {
  smokeRun = smoke;
  const parts = [];
  if (scenarios.some((sc) => sc !== 'cluster')) parts.push(mainTable(agg, scenarios));
  if (scenarios.includes('cluster')) parts.push(clusterTable(agg));
  return parts.join('\n\n');
}

function clusterTable(agg) {
  const rows = [
    '| scenario | metric | product in memory (fanout, context) | 1 instance on Redis | 2 instances on Redis | 2 / 1 | target | verdict |',
    '|---|---|---:|---:|---:|---:|:---:|:---:|',
  ];
  for (const m of CLUSTER_METRICS) {
    const k = `cluster.${m.key}`;
    const one = agg['product-redis-1']?.[k];
    const two = agg['product-redis-2']?.[k];
    const ctx = m.ctx ? agg.product?.[m.ctx] : null;
    const counts = m.limit?.zero || m.agg === 'sum';
    const r = counts ? null : ratio(two, one);
    // Counters must be zero in both set-ups; the ratio limit is on 2 vs 1.
    let v = '';
    if (m.limit?.zero) {
      const vals = [one, two].filter((x) => typeof x === 'number');
      if (vals.length) v = vals.every((x) => x === 0) ? 'pass' : '**FAIL**';
    } else v = verdict(m.limit, two, r);
    rows.push(`| cluster | ${m.label} | ${fmt(ctx)} | ${fmt(one)} | ${fmt(two)} | ${fmtRatio(r)} | ${limitText(m.limit)} | ${v} |`);
  }
  return rows.join('\n');
}

function mainTable(agg, scenarios) {
  const head = '| scenario | metric | raw-ws | product | product / raw-ws | target | product verdict | socket.io | socket.io / raw-ws |';
  const sep = '|---|---|---:|---:|---:|:---:|:---:|---:|---:|';
  const rows = [head, sep];
  for (const m of METRICS) {
    if (!scenarios.includes(m.sc)) continue;
    const k = `${m.sc}.${m.key}`;
    const raw = agg['raw-ws']?.[k];
    const prod = agg.product?.[k];
    const sio = agg['socket.io']?.[k];
    const counts = m.limit?.zero || m.agg === 'sum'; // ratios of counts mean nothing
    const pr = counts ? null : ratio(prod, raw);
    const sr = counts ? null : ratio(sio, raw);
    rows.push(`| ${m.sc} | ${m.label} | ${fmt(raw)} | ${fmt(prod)} | ${fmtRatio(pr)} | ${limitText(m.limit)} | ${verdict(m.limit, prod, pr)} | ${fmt(sio)} | ${fmtRatio(sr)} |`);
  }
  return rows.join('\n');
}
