import { afterEach, describe, expect, it } from 'vitest';
import { metric, metricBecomes, opsForTests, samples, scrape, value } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/**
 * Upgrade and connection metrics move with the events: an accepted upgrade counts under
 * outcome="accepted" and raises cm_connections; each refusal row of the protocol counts under
 * its HTTP status and code; a close lowers the gauge and counts its cause.
 */
describe('metrics: upgrades and connections', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('connect: cm_connections 1 and upgrades accepted +1; close: cm_connections 0 and closed{cause="client"} +1', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    let text = await scrape(t);
    expect(value(text, 'cm_connections')).toBe(0);
    expect(value(text, 'cm_upgrades_total', { outcome: 'accepted' })).toBe(0);

    const client = await t.connect();
    await metricBecomes(t, 'cm_upgrades_total', { outcome: 'accepted', status: '101', code: 'OK' }, 1);
    text = await scrape(t);
    expect(value(text, 'cm_connections')).toBe(1);
    expect(value(text, 'cm_connections_limit')).toBe(1000);

    await client.close(1000);
    await metricBecomes(t, 'cm_connections_closed_total', { cause: 'client' }, 1);
    expect(await metric(t, 'cm_connections')).toBe(0);
  });

  it('a bad token counts as refused{status="401",code="UNAUTHORIZED"}, a missing one too', async () => {
    t = await TestApp.create({ imports: [opsForTests()] });
    expect(await metric(t, 'cm_upgrades_total', { outcome: 'refused', status: '401' })).toBe(0);
    expect((await t.refusal('?token=not-a-jwt')).status).toBe(401);
    expect((await t.refusal()).status).toBe(401);
    await metricBecomes(t, 'cm_upgrades_total', { outcome: 'refused', status: '401', code: 'UNAUTHORIZED' }, 2);
    expect(await metric(t, 'cm_upgrades_total', { outcome: 'accepted' })).toBe(0);
    expect(await metric(t, 'cm_connections')).toBe(0);
  });

  it('403, 429 and 503 refusals each count under their status and code', async () => {
    t = await TestApp.create({
      imports: [opsForTests()],
      options: { allowedOrigins: ['https://ok.example'], maxConnections: 1, rateLimitPoints: 3, rateLimitWindowMs: 60_000 },
    });
    const token = encodeURIComponent(t.token());
    expect((await t.refusal(`?token=${token}`, { Origin: 'https://evil.example' })).status).toBe(403);
    await t.connect();
    expect((await t.refusal(`?token=${token}`)).status).toBe(503);
    // The fourth attempt from this IP is over rateLimitPoints (3).
    expect((await t.refusal(`?token=${token}`)).status).toBe(429);
    await metricBecomes(t, 'cm_upgrades_total', { outcome: 'refused', status: '429', code: 'RATE_LIMITED' }, 1);
    const text = await scrape(t);
    expect(value(text, 'cm_upgrades_total', { outcome: 'refused', status: '403', code: 'ORIGIN_NOT_ALLOWED' })).toBe(1);
    expect(value(text, 'cm_upgrades_total', { outcome: 'refused', status: '503', code: 'SERVER_FULL' })).toBe(1);
    expect(value(text, 'cm_upgrades_total', { outcome: 'accepted' })).toBe(1);
    expect(value(text, 'cm_upgrades_total', { outcome: 'refused', status: '401' })).toBe(0);
  });

  it('per-tenant connections keep the largest tenants up to tenantLabelLimit and sum the rest in a series of its own', async () => {
    t = await TestApp.create({ imports: [opsForTests({ metrics: { tenantLabelLimit: 2 } })] });
    await t.connect({ sub: 'a', tenantId: 'big' });
    await t.connect({ sub: 'b', tenantId: 'big' });
    await t.connect({ sub: 'c', tenantId: 'big' });
    await t.connect({ sub: 'd', tenantId: 'mid' });
    await t.connect({ sub: 'e', tenantId: 'mid' });
    await t.connect({ sub: 'f', tenantId: 'small1' });
    await t.connect({ sub: 'g', tenantId: 'small2' });
    const series = samples(await scrape(t), 'cm_tenant_connections')
      .map((s) => [JSON.stringify(s.labels), s.value])
      .sort();
    expect(series).toEqual([
      ['{"other_tenants":"true"}', 2],
      ['{"tenant":"big"}', 3],
      ['{"tenant":"mid"}', 2],
    ]);
  });

  it('a real tenant named __other__ keeps its own series, apart from the sum of the other tenants', async () => {
    t = await TestApp.create({ imports: [opsForTests({ metrics: { tenantLabelLimit: 1 } })] });
    await t.connect({ sub: 'a', tenantId: '__other__' });
    await t.connect({ sub: 'b', tenantId: '__other__' });
    await t.connect({ sub: 'c', tenantId: 'small' });
    const series = samples(await scrape(t), 'cm_tenant_connections')
      .map((s) => [JSON.stringify(s.labels), s.value])
      .sort();
    expect(series).toEqual([
      ['{"other_tenants":"true"}', 1],
      ['{"tenant":"__other__"}', 2],
    ]);
  });

  it('tenantLabelLimit 0 exports no per-tenant series', async () => {
    t = await TestApp.create({ imports: [opsForTests({ metrics: { tenantLabelLimit: 0 } })] });
    await t.connect();
    const text = await scrape(t);
    expect(text).not.toContain('cm_tenant_connections');
    expect(value(text, 'cm_connections')).toBe(1);
  });
});
