// Small numeric helpers shared by the harness and the generator.

/** Percentile (0..100) of a numeric array-like, nearest-rank on a sorted copy. */
export function percentile(values, p) {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank];
}

/** Several percentiles from one sort (latency arrays can be ~500k long). */
export function percentiles(values, ps) {
  const n = values.length;
  const out = {};
  if (n === 0) { for (const p of ps) out[`p${p}`] = null; return out; }
  const sorted = Float64Array.from(values).sort();
  for (const p of ps) out[`p${p}`] = sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  out.max = sorted[n - 1];
  return out;
}

/** Median of the finite numbers in `values` (nulls from failed runs are ignored). */
export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Max of finite numbers (used for loss/dup/reorder: report the worst repeat). */
export function max(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? Math.max(...v) : null;
}

/** Sum of finite numbers (counts of flagged runs). */
export function sum(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) : null;
}
