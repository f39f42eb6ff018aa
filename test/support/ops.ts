import { OpsModule } from '../../src/ops/ops.module.js';
import type { OpsOptions } from '../../src/ops/ops.options.js';
import type { TestApp } from './test-app.js';

/**
 * OpsModule for e2e scenarios: no pino (tests that look at logs configure it themselves) and
 * no default process metrics (each registration adds a GC observer to the test process).
 */
export function opsForTests(options: OpsOptions = {}) {
  return OpsModule.forRoot({ logging: false, ...options, metrics: { defaultMetrics: false, ...options.metrics } });
}

/** GET over a real socket to the test app. */
export function httpGet(t: TestApp, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${t.port}${path}`, { headers });
}

/** The /metrics exposition text (fails the test unless it answers 200). */
export async function scrape(t: TestApp): Promise<string> {
  const res = await httpGet(t, '/metrics');
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

function parseLabels(raw: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!raw) return labels;
  for (const m of raw.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
  return labels;
}

/** Every sample of `name` in an exposition, with its labels. */
export function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.length === 0) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    out.push({ labels: parseLabels(m[2]), value: Number(m[3]) });
  }
  return out;
}

/**
 * The value of the one sample of `name` whose labels include `labels`; undefined when there is
 * none, an error when several match.
 */
export function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples(text, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

/** Scrapes and reads one value, treating a missing series as 0. */
export async function metric(t: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  return value(await scrape(t), name, labels) ?? 0;
}

/** Polls /metrics until `name{labels}` equals `expected`; fails with the last value seen. */
export async function metricBecomes(t: TestApp, name: string, labels: Record<string, string>, expected: number, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await metric(t, name, labels);
  while (last !== expected) {
    if (Date.now() > deadline) throw new Error(`${name}${JSON.stringify(labels)} is ${last}, expected ${expected}`);
    await new Promise((r) => setTimeout(r, 20));
    last = await metric(t, name, labels);
  }
}
