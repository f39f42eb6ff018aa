import { Injectable } from '@nestjs/common';
import type { IncomingMessage, Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import type { TenantQuota, TenantQuotaPolicy } from '../src/domain/ports/tenant-quota-policy.port.js';
import { opsForTests, metric } from './support/ops.js';
import { TestApp } from './support/test-app.js';
import type { Refusal } from './support/test-client.js';

/**
 * Issue 12 §5, in memory: the connection quotas per user (`maxConnectionsPerUser`, default
 * 20) and per tenant (`maxConnectionsPerTenant`), checked last in the refusal order (after the
 * JWT), answered 429 QUOTA_EXCEEDED with Retry-After and the quota named in the body; a slot
 * is given back when its connection closes and when an admitted upgrade never becomes one.
 */

/** A refusal of quota `quota`: exactly this body, Retry-After = retryAfterS (5 by default). */
function expectQuotaExceeded(r: Refusal, quota: 'user' | 'tenant'): void {
  expect(r.status).toBe(429);
  expect(String(r.headers['content-type'])).toMatch(/^application\/json\b/);
  expect(r.body).toStrictEqual({ error: { code: 'QUOTA_EXCEEDED', message: expect.any(String), quota } });
  expect(r.body.error.message).toMatch(quota === 'user' ? /user/ : /tenant/);
  expect(r.headers['retry-after']).toBe('5');
}

/** Waits until the server has cleaned up the closed connections (their slots given back). */
async function closedOnServer(t: TestApp, open: number): Promise<void> {
  await t.until(() => t.get(ConnectionService).count === open, 3000, `${open} connections left`);
}

describe('connection quotas (in memory)', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('maxConnectionsPerUser 2: the 3rd connection of a user gets 429 QUOTA_EXCEEDED "user"; other users and the same id in another tenant get in; a close frees the slot', async () => {
    t = await TestApp.create({ imports: [opsForTests()], options: { maxConnectionsPerUser: 2 } });
    const tabs = [await t.connect({ sub: 'ann' }), await t.connect({ sub: 'ann' })];
    expectQuotaExceeded(await t.refusal(`?token=${t.token({ sub: 'ann' })}`), 'user');
    expect(t.eventsNamed('connection.refused')).toEqual([{ status: 429, code: 'QUOTA_EXCEEDED', ip: '127.0.0.1', quota: 'user' }]);
    expect(await metric(t, 'cm_quota_refusals_total', { quota: 'user' })).toBe(1);
    expect(await metric(t, 'cm_quota_refusals_total', { quota: 'tenant' })).toBe(0);
    expect(await metric(t, 'cm_upgrades_total', { outcome: 'refused', status: '429', code: 'QUOTA_EXCEEDED' })).toBe(1);

    expect((await t.connect({ sub: 'bob' })).ack.userId).toBe('bob');
    expect((await t.connect({ sub: 'ann', tenantId: 't2' })).ack).toMatchObject({ userId: 'ann', tenantId: 't2' });

    await tabs[0].close();
    await closedOnServer(t, 3);
    expect((await t.connect({ sub: 'ann' })).ack.userId).toBe('ann');
    expectQuotaExceeded(await t.refusal(`?token=${t.token({ sub: 'ann' })}`), 'user');
  });

  it('the default is 20 connections per user', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 1000 } });
    for (let i = 0; i < 20; i++) await t.connect({ sub: 'tabby' });
    expectQuotaExceeded(await t.refusal(`?token=${t.token({ sub: 'tabby' })}`), 'user');
  });

  it('maxConnectionsPerTenant 3: the 4th connection of the tenant gets 429 QUOTA_EXCEEDED "tenant"; another tenant is unaffected', async () => {
    t = await TestApp.create({ imports: [opsForTests()], options: { maxConnectionsPerTenant: 3, maxConnectionsPerUser: 0 } });
    const burst = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((sub) => attempt(t, { sub, tenantId: 'acme' })));
    expect(burst.filter((o) => o === 'open')).toHaveLength(3);
    const refusals = burst.filter((o): o is Refusal => o !== 'open');
    expect(refusals).toHaveLength(3);
    for (const r of refusals) expectQuotaExceeded(r, 'tenant');
    expect(await metric(t, 'cm_quota_refusals_total', { quota: 'tenant' })).toBe(3);
    expect((await t.connect({ sub: 'a', tenantId: 'other' })).ack.tenantId).toBe('other');
  });

  it('is checked last: an over-quota upgrade with a bad JWT gets 401, on a full instance 503 SERVER_FULL; a quota refusal gives its instance slot back', async () => {
    t = await TestApp.create({ options: { maxConnectionsPerUser: 1, maxConnections: 2 } });
    await t.connect({ sub: 'ann' });
    expect((await t.refusal(`?token=${t.token({ sub: 'ann' }, {}, 'another-secret-that-is-long-enough-for-hs256')}`)).status).toBe(401);
    // The quota refusal takes no instance slot: bob still gets the second one.
    expectQuotaExceeded(await t.refusal(`?token=${t.token({ sub: 'ann' })}`), 'user');
    await t.connect({ sub: 'bob' });
    const full = await t.refusal(`?token=${t.token({ sub: 'ann' })}`);
    expect({ status: full.status, code: full.body.error.code }).toEqual({ status: 503, code: 'SERVER_FULL' });
  });

  it('a resume counts too; a resume refused for quota keeps its reconnect token', async () => {
    t = await TestApp.create({ options: { maxConnectionsPerUser: 2 } });
    const first = await t.connect({ sub: 'ann' });
    await t.connect({ sub: 'ann' });
    await first.close(1001); // resumable
    await closedOnServer(t, 1);
    const third = await t.connect({ sub: 'ann' });
    expectQuotaExceeded(await t.refusal(`?reconnectToken=${encodeURIComponent(first.ack.reconnectToken)}`), 'user');

    await third.close();
    await closedOnServer(t, 1);
    const back = await t.resume(first.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: first.ack.sessionId });
  });

  it('a user at the cap can resume a session whose connection still looks open (takeover): the old one does not count', async () => {
    t = await TestApp.create({ options: { maxConnectionsPerUser: 1 } });
    const old = await t.connect({ sub: 'ann' });
    const back = await t.resume(old.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: old.ack.sessionId });
    expect((await old.closed).code).toBe(4000);
    // The taken-over connection's slot is gone with it: still exactly one.
    expectQuotaExceeded(await t.refusal(`?token=${t.token({ sub: 'ann' })}`), 'user');
    await back.close();
    await closedOnServer(t, 0);
    await t.connect({ sub: 'ann' });
  });

  it.each(['FIN', 'RST'] as const)(
    'an upgrade whose client goes away (%s) while the admission runs gives its quota slot (and its instance slot) back',
    async (how) => {
      Gate.reset();
      t = await TestApp.create({ options: { maxConnectionsPerUser: 1, maxConnections: 1 }, tenantQuotaPolicy: GatedPolicy });
      // Observes (does not handle) the upgrade's socket on the server side.
      let serverSocket: Socket | undefined;
      (t.app.getHttpServer() as Server).once('upgrade', (req: IncomingMessage) => (serverSocket = req.socket));
      // A hand-written upgrade request; the admission waits in the policy, the client gives up meanwhile.
      const client = netConnect(t.port, '127.0.0.1');
      client.on('error', () => undefined);
      client.write(
        `GET /ws?token=${t.token({ sub: 'ann', tenantId: 'gated' })} HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await t.until(() => Gate.waiting > 0, 1500, 'the admission to ask the policy');
      if (how === 'FIN') {
        // The server reads the FIN before the admission ends; ws then drops the half-closed
        // socket instead of opening a WebSocket (a close event follows).
        client.end();
        await t.until(() => serverSocket?.readableEnded === true, 1500, "the server to read the client's FIN");
      } else {
        // The reset destroys the server's socket before the admission ends: its close event is
        // already past when the upgrade is accepted.
        client.resetAndDestroy();
        await t.until(() => serverSocket?.destroyed === true, 1500, 'the server socket to be reset');
      }
      Gate.open();
      await t.until(() => serverSocket?.destroyed === true, 1500, 'ws to drop the socket');
      // Had the slots leaked, ann would get 429 QUOTA_EXCEEDED (and anyone 503 SERVER_FULL).
      const ann = await t.connect({ sub: 'ann', tenantId: 'gated' });
      expect(ann.ack.userId).toBe('ann');
      expect(t.eventsNamed('connection.established')).toHaveLength(1);
    },
  );
});

/** One upgrade attempt: 'open' once acked (then closed by the test's teardown), or the refusal. */
function attempt(t: TestApp, claims: { sub: string; tenantId: string }): Promise<'open' | Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${t.url}?token=${t.token(claims)}`);
    ws.once('message', () => resolve('open'));
    ws.once('unexpected-response', (_req, res) => {
      let raw = '';
      res.on('data', (c: Buffer) => (raw += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(raw) }));
    });
    ws.once('error', reject);
  });
}

/** Holds every policy lookup until the test opens it. */
const Gate = {
  waiting: 0,
  release: undefined as (() => void) | undefined,
  promise: Promise.resolve(),
  reset(): void {
    this.waiting = 0;
    this.promise = new Promise<void>((r) => (this.release = r));
  },
  open(): void {
    this.release?.();
  },
};

@Injectable()
class GatedPolicy implements TenantQuotaPolicy {
  async quotaFor(): Promise<TenantQuota> {
    Gate.waiting++;
    await Gate.promise;
    return {};
  }
}
