import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { TestApp } from './support/test-app.js';
import { expectRefusal } from './support/upgrade-refusal.js';

/**
 * Rows 2 and 3 of the refusal table: `Origin` checked against WS_ALLOWED_ORIGINS (a request
 * without Origin passes), and the instance's WS_MAX_CONNECTIONS (503 SERVER_FULL, Retry-After;
 * a freed slot is reusable).
 */
describe('upgrade: Origin allow-list', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const ALLOWED = ['https://app.example.com', 'https://admin.example.com'];

  it('every origin in the allow-list passes', async () => {
    t = await TestApp.create({ options: { allowedOrigins: ALLOWED } });
    for (const origin of ALLOWED) {
      const client = await t.connect({}, { headers: { Origin: origin } });
      expect(client.ack.type).toBe('connection_ack');
    }
  });

  it('any other origin gets 403 ORIGIN_NOT_ALLOWED (exact match: no prefix, suffix, scheme or port variants)', async () => {
    t = await TestApp.create({ options: { allowedOrigins: ALLOWED } });
    const others = [
      'https://evil.example.com',
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://app.example.com.evil.io',
      'https://example.com',
      'null',
    ];
    for (const origin of others) {
      const r = await t.refusal(`?token=${t.token()}`, { Origin: origin });
      expectRefusal(r, 403, 'ORIGIN_NOT_ALLOWED');
    }
    expect(t.get(ConnectionService).count).toBe(0);
  });

  it('a request without an Origin header passes the check', async () => {
    t = await TestApp.create({ options: { allowedOrigins: ALLOWED } });
    const client = await t.connect();
    expect(client.ack.type).toBe('connection_ack');
  });

  it('without an allow-list every origin passes', async () => {
    t = await TestApp.create();
    const client = await t.connect({}, { headers: { Origin: 'https://anything.example.org' } });
    expect(client.ack.type).toBe('connection_ack');
  });
});

describe('upgrade: instance capacity', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('maxConnections reached → 503 SERVER_FULL with Retry-After; the next ones too', async () => {
    t = await TestApp.create({ options: { maxConnections: 2 } });
    await t.connect({ sub: 'u1' });
    await t.connect({ sub: 'u1' });
    for (let i = 0; i < 3; i++) {
      const r = await t.refusal(`?token=${t.token({ sub: `u${i + 2}` })}`);
      expectRefusal(r, 503, 'SERVER_FULL');
    }
    expect(t.get(ConnectionService).count).toBe(2);
  });

  it('the default capacity is 1000 (an empty instance accepts)', async () => {
    t = await TestApp.create();
    const client = await t.connect();
    expect(client.ack.type).toBe('connection_ack');
  });

  it('a freed slot is reusable', async () => {
    t = await TestApp.create({ options: { maxConnections: 2 } });
    const first = await t.connect({ sub: 'u1' });
    await t.connect({ sub: 'u2' });
    expectRefusal(await t.refusal(`?token=${t.token({ sub: 'u3' })}`), 503, 'SERVER_FULL');
    await first.close();
    const connections = t.get(ConnectionService);
    await t.until(() => connections.count === 1, 5000, 'the closed connection to be forgotten');
    const third = await t.connect({ sub: 'u3' });
    expect(third.ack.userId).toBe('u3');
    expectRefusal(await t.refusal(`?token=${t.token({ sub: 'u4' })}`), 503, 'SERVER_FULL');
  });

  it('a slot freed by a dropped (terminated) client is reusable too', async () => {
    t = await TestApp.create({ options: { maxConnections: 1 } });
    const first = await t.connect({ sub: 'u1' });
    first.ws.terminate();
    const connections = t.get(ConnectionService);
    await t.until(() => connections.count === 0, 5000, 'the dropped connection to be forgotten');
    const second = await t.connect({ sub: 'u2' });
    expect(second.ack.userId).toBe('u2');
  });
});
