import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import { expectNoConnectionOpened, expectRefusal, rawUpgrade } from './support/upgrade-refusal.js';

/**
 * The refusal table of protocol v1: every row answers the upgrade with a plain HTTP response
 * (exact status, JSON `{"error":{"code","message"}}`, Retry-After on 429/503), never a socket;
 * and the checks run in the table's order: 429 → 403 → 503 → 401.
 */
describe('upgrade refusal table', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  describe('every row: status, JSON body, headers, no socket', () => {
    it('429 RATE_LIMITED with Retry-After in whole seconds within the window', async () => {
      t = await TestApp.create({ options: { rateLimitPoints: 1, rateLimitWindowMs: 60_000 } });
      await t.refusal('?token=bad');
      const r = await t.refusal(`?token=${t.token()}`);
      expectRefusal(r, 429, 'RATE_LIMITED');
      const retryAfter = Number(r.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expectNoConnectionOpened(t);
    });

    it('403 ORIGIN_NOT_ALLOWED without Retry-After', async () => {
      t = await TestApp.create({ options: { allowedOrigins: ['https://app.example.com'] } });
      const r = await t.refusal(`?token=${t.token()}`, { Origin: 'https://evil.example.com' });
      expectRefusal(r, 403, 'ORIGIN_NOT_ALLOWED');
      expectNoConnectionOpened(t);
    });

    it('503 SERVER_FULL with the configured Retry-After', async () => {
      t = await TestApp.create({ options: { maxConnections: 1, retryAfterS: 7 } });
      await t.connect({ sub: 'u1' });
      const r = await t.refusal(`?token=${t.token({ sub: 'u2' })}`);
      expectRefusal(r, 503, 'SERVER_FULL');
      expect(r.headers['retry-after']).toBe('7');
      expect(t.eventsNamed('connection.established')).toHaveLength(1);
    });

    it('401 UNAUTHORIZED without Retry-After', async () => {
      t = await TestApp.create();
      const r = await t.refusal('?token=not-a-jwt');
      expectRefusal(r, 401, 'UNAUTHORIZED', ['not-a-jwt']);
      expectNoConnectionOpened(t);
    });

    it('a refusal is a complete HTTP response and the server then ends the TCP connection (never 101)', async () => {
      t = await TestApp.create();
      const raw = await rawUpgrade(t.port, '/ws?token=not-a-jwt');
      const [head, body] = raw.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 401 /);
      expect(raw).not.toMatch(/^HTTP\/1\.1 101/m);
      expect(head).toMatch(/^content-type: application\/json/im);
      const length = /^content-length: (\d+)/im.exec(head);
      expect(length).not.toBeNull();
      expect(Buffer.byteLength(body)).toBe(Number(length![1]));
      expect(JSON.parse(body)).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
      expectNoConnectionOpened(t);
    });

    it('a 429 ends the TCP connection too, with its Retry-After header', async () => {
      t = await TestApp.create({ options: { rateLimitPoints: 1, rateLimitWindowMs: 60_000 } });
      await rawUpgrade(t.port, '/ws');
      const raw = await rawUpgrade(t.port, '/ws');
      const [head, body] = raw.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 429 /);
      expect(head).toMatch(/^retry-after: [1-9]\d*\r?$/im);
      expect(JSON.parse(body).error.code).toBe('RATE_LIMITED');
    });
  });

  describe('order of checks', () => {
    it('rate limit beats a bad token (429, not 401)', async () => {
      t = await TestApp.create({ options: { rateLimitPoints: 2, rateLimitWindowMs: 60_000 } });
      expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
      expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
      expectRefusal(await t.refusal('?token=garbage'), 429, 'RATE_LIMITED');
      expectRefusal(await t.refusal(), 429, 'RATE_LIMITED');
    });

    it('rate limit beats a bad origin (429, not 403)', async () => {
      t = await TestApp.create({ options: { rateLimitPoints: 1, rateLimitWindowMs: 60_000, allowedOrigins: ['https://app.example.com'] } });
      expectRefusal(await t.refusal('', { Origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
      expectRefusal(await t.refusal('', { Origin: 'https://evil.example.com' }), 429, 'RATE_LIMITED');
    });

    it('origin beats capacity (403, not 503)', async () => {
      t = await TestApp.create({ options: { maxConnections: 1, allowedOrigins: ['https://app.example.com'] } });
      await t.connect({ sub: 'u1' });
      expectRefusal(await t.refusal(`?token=${t.token({ sub: 'u2' })}`), 503, 'SERVER_FULL');
      expectRefusal(await t.refusal(`?token=${t.token({ sub: 'u2' })}`, { Origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
    });

    it('origin beats a bad token (403, not 401)', async () => {
      t = await TestApp.create({ options: { allowedOrigins: ['https://app.example.com'] } });
      expectRefusal(await t.refusal('?token=garbage', { Origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
      expectRefusal(await t.refusal('?token=garbage', { Origin: 'https://app.example.com' }), 401, 'UNAUTHORIZED');
    });

    it('capacity beats a bad token (503 SERVER_FULL with maxConnections: 2)', async () => {
      t = await TestApp.create({ options: { maxConnections: 2 } });
      await t.connect({ sub: 'u1' });
      await t.connect({ sub: 'u2' });
      expectRefusal(await t.refusal('?token=garbage'), 503, 'SERVER_FULL');
      expectRefusal(await t.refusal(), 503, 'SERVER_FULL');
      expect(t.eventsNamed('connection.established')).toHaveLength(2);
    });

    it('a refused upgrade does not take a connection slot', async () => {
      t = await TestApp.create({ options: { maxConnections: 1 } });
      for (let i = 0; i < 5; i++) expectRefusal(await t.refusal('?token=garbage'), 401, 'UNAUTHORIZED');
      const client = await t.connect({ sub: 'u1' });
      expect(client.ack.userId).toBe('u1');
    });
  });
});
