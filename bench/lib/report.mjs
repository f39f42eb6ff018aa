// Aggregate repeats (median, or worst case for correctness counters), compute
// ratios against raw-ws from the same run, check the thresholds for
// product, and render one Markdown table plus notes.
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

/** runs: [{scenario, target, metrics}] (failed runs have no metrics). */
export function aggregate(runs) {
  const out = {};
  for (const m of METRICS) {
    for (const t of COLUMNS) {
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

function verdict(limit, value, r) {
  if (!limit || value === null || value === undefined) return '';
  if (limit.zero) return value === 0 ? 'pass' : '**FAIL**';
  if (r === null) return '';
  return (limit.le ? r <= limit.le : r >= limit.ge) ? 'pass' : '**FAIL**';
}

/** Markdown table for the selected scenarios. */
export function renderTable(agg, scenarios) {
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
