import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { scrapedCounter } from './scraped-counter.js';

/** The counter's value as a scrape reads it. */
async function scrape(registry: Registry): Promise<number> {
  const [metric] = await registry.getMetricsAsJSON();
  return metric!.values[0]!.value;
}

describe('scrapedCounter', () => {
  it('adds at each scrape what the running total grew since the last one', async () => {
    const registry = new Registry();
    let total = 0;
    scrapedCounter({ name: 'test_total', help: 'a test', registers: [registry], read: () => total });
    expect(await scrape(registry)).toBe(0);
    total = 5;
    expect(await scrape(registry)).toBe(5);
    expect(await scrape(registry)).toBe(5);
    total = 12;
    expect(await scrape(registry)).toBe(12);
  });

  it('never goes down when the total reads lower, and counts on from the new value', async () => {
    const registry = new Registry();
    let total = 10;
    scrapedCounter({ name: 'test_total', help: 'a test', registers: [registry], read: () => total });
    expect(await scrape(registry)).toBe(10);
    total = 3;
    expect(await scrape(registry)).toBe(10);
    total = 7;
    expect(await scrape(registry)).toBe(14);
  });

  it('is exposed under its name and help in the text format', async () => {
    const registry = new Registry();
    scrapedCounter({ name: 'test_things_total', help: 'Things seen.', registers: [registry], read: () => 2 });
    const text = await registry.metrics();
    expect(text).toContain('# HELP test_things_total Things seen.');
    expect(text).toContain('# TYPE test_things_total counter');
    expect(text).toContain('test_things_total 2');
  });
});
