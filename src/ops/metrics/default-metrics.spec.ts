import type * as promClient from 'prom-client';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';

// prom-client's collector is spied on, then called for real: the sampling period must reach it.
const collect = vi.hoisted(() => ({ calls: [] as unknown[] }));
vi.mock('prom-client', async (importOriginal) => {
  const real = await importOriginal<typeof promClient>();
  return {
    ...real,
    collectDefaultMetrics: (config: Parameters<typeof real.collectDefaultMetrics>[0]) => {
      collect.calls.push(config);
      real.collectDefaultMetrics(config);
    },
  };
});

const { startDefaultMetrics } = await import('./default-metrics.js');

describe('startDefaultMetrics', () => {
  afterEach(() => {
    collect.calls.length = 0;
  });

  it('samples the event-loop lag at the configured period, under the prefix', async () => {
    const registry = new Registry();
    startDefaultMetrics(registry, { prefix: 'x_', eventLoopResolutionMs: 100 });
    expect(collect.calls).toEqual([expect.objectContaining({ register: registry, prefix: 'x_', eventLoopMonitoringPrecision: 100 })]);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('x_nodejs_eventloop_lag_p99_seconds');
  });
});
