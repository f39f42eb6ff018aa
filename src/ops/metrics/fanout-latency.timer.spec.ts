import { EventEmitter2 } from '@nestjs/event-emitter';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { resolveOpsOptions } from '../ops.options.js';
import { FanoutLatencyTimer } from './fanout-latency.timer.js';
import { LeanHistogram } from './lean-histogram.js';
import type { MetricsService } from './metrics.service.js';

/** Spins for `ms` on the monotonic high-resolution clock (Date.now()'s 1 ms steps made it short). */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

async function setUp(enabled = true) {
  const events = new EventEmitter2();
  const registry = new Registry();
  const fanoutSeconds = new LeanHistogram({ name: 'f', help: 'f', buckets: [0.001, 0.01, 0.1], registers: [registry] });
  const timer = new FanoutLatencyTimer(events, { fanoutSeconds } as unknown as MetricsService, resolveOpsOptions({ metrics: { enabled } }));
  timer.onModuleInit();
  const stats = async () => (await fanoutSeconds.get()).values;
  const count = async () => (await stats()).find((v) => v.metricName === 'f_count')!.value;
  const sum = async () => (await stats()).find((v) => v.metricName === 'f_sum')!.value;
  return { events, timer, count, sum };
}

describe('FanoutLatencyTimer', () => {
  it('observes once per message, spanning the listeners in between', async () => {
    const { events, count, sum } = await setUp();
    events.on('connection.message', () => busy(15));
    // A listener attached after the timer is put behind the end mark by the first message,
    // which is skipped; from then on every message is observed.
    events.emit('connection.message', {});
    expect(await count()).toBe(0);
    events.emit('connection.message', {});
    events.emit('connection.message', {});
    expect(await count()).toBe(2);
    expect(await sum()).toBeGreaterThanOrEqual(0.03);
  });

  it('puts late listeners behind the end mark once bootstrap is over', async () => {
    const { events, timer, count, sum } = await setUp();
    events.on('connection.message', () => busy(15));
    timer.onApplicationBootstrap();
    await new Promise((r) => setImmediate(r));
    events.emit('connection.message', {});
    expect(await count()).toBe(1);
    expect(await sum()).toBeGreaterThanOrEqual(0.015);
  });

  it('attaches nothing when metrics are disabled, and detaches on shutdown', async () => {
    const disabled = await setUp(false);
    expect(disabled.events.listeners('connection.message')).toHaveLength(0);
    const enabled = await setUp(true);
    expect(enabled.events.listeners('connection.message')).toHaveLength(2);
    enabled.timer.onApplicationShutdown();
    expect(enabled.events.listeners('connection.message')).toHaveLength(0);
  });
});
