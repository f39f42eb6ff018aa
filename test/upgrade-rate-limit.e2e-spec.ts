import { afterEach, describe, expect, it } from 'vitest';
import { UpgradeRateLimiter } from '../src/domain/ports/upgrade-rate-limiter.port.js';
import { TestApp } from './support/test-app.js';
import { attemptUpgrade, expectRefusal } from './support/upgrade-refusal.js';

/**
 * Row 1 of the refusal table: more than WS_RATE_LIMIT_POINTS upgrade attempts from one client
 * IP within the window get 429. Every attempt on the module's path counts (refused ones and
 * 429s too); X-Forwarded-For is believed only with trusted proxy hops; other paths are not ours.
 */
describe('upgrade rate limit per client IP', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const xff = (value: string) => ({ 'X-Forwarded-For': value });

  it('default: 20 attempts pass the limiter, the 21st gets 429', async () => {
    t = await TestApp.create();
    for (let i = 0; i < 5; i++) await t.connect({ sub: `u${i}` });
    for (let i = 0; i < 15; i++) expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal(`?token=${t.token({ sub: 'late' })}`), 429, 'RATE_LIMITED');
  });

  it('WS_RATE_LIMIT_POINTS + 1-th attempt gets 429, even with a valid token', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 3, rateLimitWindowMs: 60_000 } });
    for (let i = 0; i < 3; i++) await t.connect({ sub: `u${i}` });
    expectRefusal(await t.refusal(`?token=${t.token({ sub: 'u3' })}`), 429, 'RATE_LIMITED');
    expect(t.eventsNamed('connection.established')).toHaveLength(3);
  });

  it('refused attempts (401, 403, no credential) count toward the limit', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 3, rateLimitWindowMs: 60_000, allowedOrigins: ['https://app.example.com'] } });
    expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal(`?token=${t.token()}`, { Origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
    expectRefusal(await t.refusal(), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal(`?token=${t.token()}`), 429, 'RATE_LIMITED');
  });

  it('429 answers count too: every attempt is recorded by the limiter', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 2, rateLimitWindowMs: 60_000 } });
    await t.connect();
    expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
    for (let i = 0; i < 4; i++) expectRefusal(await t.refusal(`?token=${t.token()}`), 429, 'RATE_LIMITED');
    const limiter = t.get<UpgradeRateLimiter>(UpgradeRateLimiter);
    expect(await limiter.attempts('127.0.0.1')).toBe(6);
  });

  it('the budget comes back after the window (Retry-After is honoured)', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 2, rateLimitWindowMs: 2000 } });
    await t.refusal('?token=garbage');
    await t.refusal('?token=garbage');
    const r = await t.refusal(`?token=${t.token()}`);
    expectRefusal(r, 429, 'RATE_LIMITED');
    expect(['1', '2']).toContain(r.headers['retry-after']);
    await new Promise((res) => setTimeout(res, Number(r.headers['retry-after']) * 1000 + 300));
    const client = await t.connect();
    expect(client.ack.type).toBe('connection_ack');
  });

  it('a spoofed X-Forwarded-For does not escape the limit when trustProxyHops is 0', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 3, rateLimitWindowMs: 60_000 } });
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.1')), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.2')), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.3, 10.0.0.4')), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal(`?token=${t.token()}`, xff('10.0.0.99')), 429, 'RATE_LIMITED');
    expectRefusal(await t.refusal(`?token=${t.token()}`), 429, 'RATE_LIMITED');
  });

  it('trustProxyHops 1: the rightmost X-Forwarded-For entry is the client, each with its own budget', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 2, rateLimitWindowMs: 60_000, trustProxyHops: 1 } });
    expectRefusal(await t.refusal('?token=garbage', xff('1.1.1.1, 10.0.0.1')), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal('?token=garbage', xff('1.1.1.1, 10.0.0.1')), 401, 'UNAUTHORIZED');
    // Same rightmost entry: the client-written part to its left cannot buy a new budget.
    expectRefusal(await t.refusal('?token=garbage', xff('9.9.9.9, 10.0.0.1')), 429, 'RATE_LIMITED');
    expectRefusal(await t.refusal(`?token=${t.token()}`, xff('10.0.0.1')), 429, 'RATE_LIMITED');
    // A different rightmost entry is a different client.
    expectRefusal(await t.refusal('?token=garbage', xff('1.1.1.1, 10.0.0.2')), 401, 'UNAUTHORIZED');
    const client = await t.connect({}, { headers: xff('10.0.0.2') });
    expect(client.ack.type).toBe('connection_ack');
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.2')), 429, 'RATE_LIMITED');
  });

  it('with fewer X-Forwarded-For entries than trusted hops, the leftmost entry is the client', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 2, rateLimitWindowMs: 60_000, trustProxyHops: 3 } });
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.5, 10.0.0.6')), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.5')), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.5, 10.0.0.7')), 429, 'RATE_LIMITED');
    // 10.0.0.6 (rightmost of the first request) was never charged, nor was the socket address.
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.6, 10.0.0.5')), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
  });

  it('with trusted hops but no X-Forwarded-For, the socket address is the client', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 1, rateLimitWindowMs: 60_000, trustProxyHops: 1 } });
    expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
    expectRefusal(await t.refusal('?token=garbage'), 429, 'RATE_LIMITED');
    expectRefusal(await t.refusal('?token=garbage', xff('10.0.0.8')), 401, 'UNAUTHORIZED');
  });

  it("upgrades on another path are neither counted nor refused with this module's JSON", async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 2, rateLimitWindowMs: 60_000 } });
    const base = `ws://127.0.0.1:${t.port}`;
    for (const path of ['/other', '/other', `/other?token=${t.token()}`, '/ws/extra', '/wsx', '/']) {
      const outcome = await attemptUpgrade(`${base}${path}`);
      expect(outcome.kind, `upgrade on ${path}`).toBe('error');
    }
    expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
    const client = await t.connect();
    expect(client.ack.type).toBe('connection_ack');
    expectRefusal(await t.refusal('?token=garbage'), 429, 'RATE_LIMITED');
    // Still not ours once the IP is over the limit on /ws: no 429 on other paths.
    expect((await attemptUpgrade(`${base}/other`)).kind).toBe('error');
    expect(t.eventsNamed('connection.refused').map((e) => e.status)).toEqual([401, 429]);
  });
});
