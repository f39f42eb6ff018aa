import { Module } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { LifecycleState } from '../src/domain/connections/lifecycle-state.js';
import { ReadinessCheck } from '../src/ops/health/readiness-check.interface.js';
import { ReadinessRegistry } from '../src/ops/health/readiness.registry.js';
import { httpGet, metric, opsForTests } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/**
 * Probes: /health/live answers 200 while the process runs, whatever else is going on;
 * /health/ready answers 200 only when the instance is not draining and every readiness check
 * passes, else 503 in terminus's format with the failing key under `error`.
 */

/** A readiness check the test flips, provided under the ReadinessCheck token by a module of its own. */
const backend = { up: true, hang: false };
const fakeRedis: ReadinessCheck = {
  name: 'redis',
  isReady: () => (backend.hang ? new Promise<boolean>(() => undefined) : backend.up),
};
@Module({ providers: [{ provide: ReadinessCheck, useValue: fakeRedis }] })
class FakeRedisModule {}

describe('health endpoints', () => {
  let t: TestApp;
  afterEach(async () => {
    backend.up = true;
    backend.hang = false;
    await t.close();
  });

  it('GET /health/live is 200 in terminus format, never cached', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    const res = await httpGet(t, '/health/live');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(await res.json()).toMatchObject({ status: 'ok', info: { process: { status: 'up' } }, error: {}, details: { process: { status: 'up' } } });
  });

  it('GET /health/ready is 200 with draining up when the instance serves', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    const res = await httpGet(t, '/health/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', info: { draining: { status: 'up' } }, error: {}, details: { draining: { status: 'up' } } });
  });

  it('readiness is 503 while LifecycleState.draining is true, and liveness stays 200; back to 200 when it clears', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    const lifecycle = t.get(LifecycleState);
    lifecycle.draining = true;
    const ready = await httpGet(t, '/health/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'error', error: { draining: { status: 'down' } } });
    expect((await httpGet(t, '/health/live')).status).toBe(200);
    expect(await metric(t, 'cm_draining')).toBe(1);

    lifecycle.draining = false;
    expect((await httpGet(t, '/health/ready')).status).toBe(200);
    expect(await metric(t, 'cm_draining')).toBe(0);
  });

  it('a ReadinessCheck provided by any module gates readiness and shows as cm_backend_up', async () => {
    t = await TestApp.create({ imports: [opsForTests(), FakeRedisModule] });
    let res = await httpGet(t, '/health/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ details: { draining: { status: 'up' }, redis: { status: 'up' } } });
    expect(await metric(t, 'cm_backend_up', { backend: 'redis' })).toBe(1);

    backend.up = false;
    res = await httpGet(t, '/health/ready');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'error', info: { draining: { status: 'up' } }, error: { redis: { status: 'down' } } });
    expect(await metric(t, 'cm_backend_up', { backend: 'redis' })).toBe(0);
    expect((await httpGet(t, '/health/live')).status).toBe(200);

    backend.up = true;
    expect((await httpGet(t, '/health/ready')).status).toBe(200);
  });

  it('a check that never answers is down after health.checkTimeoutMs instead of hanging the probe', async () => {
    t = await TestApp.create({ imports: [opsForTests({ health: { checkTimeoutMs: 100 } }), FakeRedisModule] });
    backend.hang = true;
    const started = Date.now();
    const res = await httpGet(t, '/health/ready');
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await res.json()).toMatchObject({ error: { redis: { status: 'down', message: 'no answer within 100 ms' } } });
  });

  it('checks registered at run time through ReadinessRegistry count too, until removed', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    const remove = t.get(ReadinessRegistry).register({ name: 'queue', isReady: async () => false });
    expect((await httpGet(t, '/health/ready')).status).toBe(503);
    remove();
    expect((await httpGet(t, '/health/ready')).status).toBe(200);
  });
});
