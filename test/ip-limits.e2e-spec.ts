import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { TestApp } from './support/test-app.js';
import type { Refusal } from './support/test-client.js';

/**
 * One address must not take the whole instance:
 * - per-IP concurrent cap (`maxConnectionsPerIp`, WS_MAX_CONNECTIONS_PER_IP): past it, 429
 *   RATE_LIMITED "too many open connections from this address" with Retry-After; a closed
 *   connection frees its slot; concurrent upgrades cannot overshoot it; other IPs are unaffected;
 * - connection flood: a burst of 10× `rateLimitPoints` attempts from one IP gets 429 for all
 *   beyond the limit, while a second IP connects normally during the flood.
 * Distinct client IPs over loopback come from X-Forwarded-For with trustProxyHops 1.
 */

type Outcome = { opened: WebSocket } | { refused: Refusal };

/** One upgrade attempt that either opens (and waits for the ack) or is refused. */
function attempt(t: TestApp, ip?: string): Promise<Outcome> {
  const headers = ip ? { 'X-Forwarded-For': ip } : undefined;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${t.url}?token=${t.token({ sub: `u-${Math.random().toString(36).slice(2, 8)}` })}`, { headers });
    ws.once('message', () => resolve({ opened: ws })); // connection_ack
    ws.once('unexpected-response', (_req, res) => {
      let raw = '';
      res.on('data', (c: Buffer) => (raw += c.toString()));
      res.on('end', () => resolve({ refused: { status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(raw) } }));
    });
    ws.once('error', reject);
  });
}
const opened = (o: Outcome[]) => o.flatMap((x) => ('opened' in x ? [x.opened] : []));
const refused = (o: Outcome[]) => o.flatMap((x) => ('refused' in x ? [x.refused] : []));

function expectTooMany(r: Refusal, message: string): void {
  expect(r.status).toBe(429);
  expect(r.body).toStrictEqual({ error: { code: 'RATE_LIMITED', message } });
  expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

describe('per-IP limits', () => {
  let t: TestApp;
  const sockets: WebSocket[] = [];
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await t.close();
  });

  it('maxConnectionsPerIp 3: the 4th connection from 127.0.0.1 gets 429 while three are open; closing one frees a slot', async () => {
    t = await TestApp.create({ options: { maxConnectionsPerIp: 3, rateLimitPoints: 1000 } });
    const first = [await t.connect({ sub: 'a' }), await t.connect({ sub: 'b' }), await t.connect({ sub: 'c' })];
    expectTooMany(await t.refusal(`?token=${t.token({ sub: 'd' })}`), 'too many open connections from this address');
    expect(t.eventsNamed('connection.refused')).toEqual([expect.objectContaining({ status: 429, code: 'RATE_LIMITED', ip: '127.0.0.1' })]);
    // Still full while they stay open (a refused attempt takes no slot).
    expect((await t.refusal(`?token=${t.token({ sub: 'd' })}`)).status).toBe(429);

    await first[0].close();
    await t.until(() => t.get(ConnectionService).count === 2, 3000, 'the closed connection unregistered');
    const d = await t.connect({ sub: 'd' });
    expect(d.ack.userId).toBe('d');
    expect((await t.refusal(`?token=${t.token({ sub: 'e' })}`)).status).toBe(429);
  });

  it('refused upgrades (401, 403) give their IP slot back', async () => {
    t = await TestApp.create({ options: { maxConnectionsPerIp: 2, rateLimitPoints: 1000, allowedOrigins: ['https://app.example'] } });
    for (let i = 0; i < 5; i++) {
      expect((await t.refusal('?token=bad')).status).toBe(401);
      expect((await t.refusal(`?token=${t.token()}`, { Origin: 'https://evil.example' })).status).toBe(403);
    }
    await t.connect({ sub: 'a' });
    await t.connect({ sub: 'b' });
    expect((await t.refusal(`?token=${t.token({ sub: 'c' })}`)).status).toBe(429);
  });

  it('concurrent upgrades from one address cannot overshoot the cap; another address is unaffected', async () => {
    t = await TestApp.create({ options: { maxConnectionsPerIp: 3, rateLimitPoints: 1000, trustProxyHops: 1 } });
    const burst = await Promise.all(Array.from({ length: 12 }, () => attempt(t, '203.0.113.7')));
    sockets.push(...opened(burst));
    expect(opened(burst)).toHaveLength(3);
    expect(refused(burst)).toHaveLength(9);
    for (const r of refused(burst)) expectTooMany(r, 'too many open connections from this address');
    const other = await Promise.all(Array.from({ length: 3 }, () => attempt(t, '198.51.100.9')));
    sockets.push(...opened(other));
    expect(opened(other)).toHaveLength(3);
    expect(t.get(ConnectionService).count).toBe(6);
  });

  it('connection flood: 10× rateLimitPoints attempts from one IP, all beyond the limit get 429, while a second IP connects normally', async () => {
    const points = 10;
    t = await TestApp.create({ options: { rateLimitPoints: points, rateLimitWindowMs: 10_000, trustProxyHops: 1 } });
    const flood = Array.from({ length: 10 * points }, () => attempt(t, '203.0.113.66'));
    // A second address during the flood: connects, joins, talks.
    const bystander = await t.connect({ sub: 'bystander' }, { headers: { 'X-Forwarded-For': '198.51.100.20' } });
    expect(await bystander.join('c1')).toMatchObject({ type: 'room_joined' });
    expect(await bystander.request({ type: 'ping', id: 'during' })).toStrictEqual({ type: 'pong', id: 'during' });

    const outcomes = await Promise.all(flood);
    sockets.push(...opened(outcomes));
    expect(opened(outcomes)).toHaveLength(points);
    expect(refused(outcomes)).toHaveLength(9 * points);
    for (const r of refused(outcomes)) expectTooMany(r, 'too many connection attempts');
    // The flooder stays limited for the window; the bystander's address still connects.
    expect((await t.refusal(`?token=${t.token()}`, { 'X-Forwarded-For': '203.0.113.66' })).status).toBe(429);
    const again = await t.connect({ sub: 'bystander2' }, { headers: { 'X-Forwarded-For': '198.51.100.20' } });
    expect(again.ack.userId).toBe('bystander2');
    const refusals = t.eventsNamed('connection.refused');
    expect(refusals.every((e) => e.ip === '203.0.113.66' && e.status === 429)).toBe(true);
    expect(refusals).toHaveLength(9 * points + 1);
  });
});
