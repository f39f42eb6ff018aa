import { Module } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ReadinessCheck } from '../src/ops/health/readiness-check.interface.js';
import { httpGet, opsForTests, scrape } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/**
 * GET /metrics: Prometheus text format, every documented metric exported and every exported
 * metric documented (docs/operations.md), default metrics under the prefix, and 404 when off.
 */

@Module({ providers: [{ provide: ReadinessCheck, useValue: { name: 'redis', isReady: () => true } satisfies ReadinessCheck }] })
class RedisCheckModule {}

/** Metric families of an exposition (`# TYPE` lines). */
function families(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]).sort();
}

/** Names in the metric table of docs/operations.md (rows starting with a `cm_` name). */
function documented(): string[] {
  const doc = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
  return [...doc.matchAll(/^\| `(cm_[a-z_]+)` \|/gm)].map((m) => m[1]).sort();
}

describe('GET /metrics', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('answers the Prometheus text format, uncached, with HELP and TYPE for every family', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    const res = await httpGet(t, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    for (const name of families(text)) expect(text).toContain(`# HELP ${name} `);
    expect(families(text)).toContain('cm_connections');
  });

  it('exports exactly the metrics docs/operations.md lists (cluster-mode backend check included)', async () => {
    t = await TestApp.create({ imports: [opsForTests(), RedisCheckModule] });
    const exported = families(await scrape(t));
    expect(documented().length).toBeGreaterThan(15);
    expect(exported).toEqual(documented());
  });

  it('adds prom-client default metrics under the prefix when defaultMetrics is on, and honours a custom prefix', async () => {
    t = await TestApp.create({ imports: [opsForTests({ metrics: { defaultMetrics: true, prefix: 'wsx_' } })] });
    const text = await scrape(t);
    const names = families(text);
    for (const name of [
      'wsx_process_cpu_seconds_total',
      'wsx_nodejs_eventloop_lag_seconds',
      'wsx_nodejs_heap_size_used_bytes',
      'wsx_connections',
      'wsx_upgrades_total',
    ]) {
      expect(names).toContain(name);
    }
    expect(names.filter((n) => !n.startsWith('wsx_'))).toEqual([]);
  });

  it('answers 404 when metrics are disabled, and the app keeps serving', async () => {
    t = await TestApp.create({ imports: [opsForTests({ metrics: { enabled: false } })] });
    expect((await httpGet(t, '/metrics')).status).toBe(404);
    const client = await t.connect();
    expect(await client.join('c1')).toMatchObject({ type: 'room_joined' });
    expect((await httpGet(t, '/health/ready')).status).toBe(200);
  });
});
