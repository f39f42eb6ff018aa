import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LeanHistogram } from './lean-histogram.js';

const BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05];

/** The same observations through prom-client's Histogram and through LeanHistogram, as scraped. */
async function bothScrapes(values: number[], buckets = BUCKETS): Promise<{ prom: string; lean: string }> {
  const promRegistry = new Registry();
  const leanRegistry = new Registry();
  const prom = new Histogram({ name: 'test_seconds', help: 'a test', buckets, registers: [promRegistry] });
  const lean = new LeanHistogram({ name: 'test_seconds', help: 'a test', buckets, registers: [leanRegistry] });
  for (const v of values) {
    prom.observe(v);
    lean.observe(v);
  }
  return { prom: await promRegistry.metrics(), lean: await leanRegistry.metrics() };
}

describe('LeanHistogram', () => {
  it('scrapes as the text a prom-client Histogram of the same name and buckets gives', async () => {
    const { prom, lean } = await bothScrapes([0.00005, 0.0001, 0.0003, 0.002, 0.002, 0.07, 1]);
    expect(lean).toBe(prom);
    expect(lean).toContain('test_seconds_bucket{le="0.0001"} 2');
    expect(lean).toContain('test_seconds_bucket{le="+Inf"} 7');
    expect(lean).toContain('test_seconds_count 7');
  });

  it('matches prom-client for any observations, bounds included (property)', async () => {
    const value = fc.oneof(fc.constantFrom(...BUCKETS), fc.double({ min: 0, max: 0.2, noNaN: true }));
    await fc.assert(
      fc.asyncProperty(fc.array(value, { maxLength: 60 }), async (values) => {
        const { prom, lean } = await bothScrapes(values);
        expect(lean).toBe(prom);
      }),
      { numRuns: 100 },
    );
  });

  it('scrapes zeros before the first observation, and again after reset', async () => {
    const registry = new Registry();
    const lean = new LeanHistogram({ name: 'test_seconds', help: 'a test', buckets: BUCKETS, registers: [registry] });
    expect(await registry.metrics()).toBe((await bothScrapes([])).prom);
    lean.observe(0.003);
    registry.resetMetrics();
    expect(await registry.metrics()).toBe((await bothScrapes([])).prom);
  });

  it('ignores a value that is not a finite number instead of throwing into the caller', async () => {
    const registry = new Registry();
    const lean = new LeanHistogram({ name: 'test_seconds', help: 'a test', buckets: BUCKETS, registers: [registry] });
    lean.observe(Number.NaN);
    lean.observe(Number.POSITIVE_INFINITY);
    lean.observe(0.002);
    expect(await registry.metrics()).toBe((await bothScrapes([0.002])).prom);
  });

  it('refuses duplicate, unordered or non-finite bounds at construction, naming the metric', () => {
    expect(() => new LeanHistogram({ name: 'dup_seconds', help: 'x', buckets: [0.1, 0.1], registers: [] })).toThrow(/dup_seconds/);
    expect(() => new LeanHistogram({ name: 'order_seconds', help: 'x', buckets: [0.2, 0.1], registers: [] })).toThrow(/order_seconds/);
    expect(() => new LeanHistogram({ name: 'inf_seconds', help: 'x', buckets: [0.1, Infinity], registers: [] })).toThrow(/inf_seconds/);
  });

  it('is a prom-client Histogram: get() and startTimer() report what observe counted; labels are refused', async () => {
    const registry = new Registry();
    const lean = new LeanHistogram({ name: 'test_seconds', help: 'a test', buckets: BUCKETS, registers: [registry] });
    expect(lean).toBeInstanceOf(Histogram);
    lean.observe({}, 0.002);
    lean.startTimer()();
    const values = (await lean.get()).values;
    expect(values.find((v) => v.metricName === 'test_seconds_count')!.value).toBe(2);
    expect(values.find((v) => v.labels.le === 0.005)!.value).toBeGreaterThanOrEqual(1);
    expect(() => lean.observe({ tenant: 'a' }, 0.001)).toThrow(/no labels/);
    expect(() => lean.labels()).toThrow(/no labels/);
    expect(() => lean.zero({})).toThrow(/no labels/);
  });
});
