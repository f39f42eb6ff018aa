import { afterEach, describe, expect, it } from 'vitest';
import { DrainService } from '../src/domain/connections/drain.service.js';
import { LifecycleState } from '../src/domain/connections/lifecycle-state.js';
import { TestApp } from './support/test-app.js';
import { frozenPeer, type FrozenPeer } from './support/continuity.js';

/**
 * Graceful drain, in process (issue 3; the SIGTERM of a real process is drain-process.e2e-spec.ts):
 * on app shutdown every connection gets close 1012 "service restart" (resumable), new
 * upgrades get 503 DRAINING with Retry-After (checked before every other refusal), the wait
 * for close handshakes is bounded by drainTimeoutMs, and nothing in flight is lost.
 * A "frozen" peer (bare TCP, reads nothing after its ack) never answers the close, which keeps
 * the drain pending deterministically.
 */

const token = (t: TestApp, sub: string): string => `/ws?token=${encodeURIComponent(t.token({ sub }))}`;

async function frozenIn(t: TestApp, sub: string, canvasId: string): Promise<FrozenPeer> {
  const peer = await frozenPeer(t.port, token(t, sub));
  const before = t.eventsNamed('room.joined').length;
  peer.sendText(JSON.stringify({ type: 'join', canvasId }));
  await t.until(() => t.eventsNamed('room.joined').length === before + 1, 3000, `${sub} joined`);
  return peer;
}

describe('graceful drain (in process)', () => {
  let t: TestApp;
  const peers: FrozenPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) p.destroy();
    await t.close();
  });

  it('app.close(): every client sees close 1012 "service restart" (resumable), after what was sent to it before', async () => {
    t = await TestApp.create();
    const tab1 = await t.connect({ sub: 'alice' });
    const tab2 = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    for (const c of [tab1, tab2, bob]) await c.join('c1');
    bob.send({ type: 'message', canvasId: 'c1', data: 'before the drain' });
    await t.until(() => t.eventsNamed('connection.message').length === 1);

    await t.app.close();
    for (const c of [tab1, tab2, bob]) expect(await c.closed).toEqual({ code: 1012, reason: 'service restart' });
    for (const tab of [tab1, tab2]) expect(tab.frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual(['before the drain']);
    const closed = t.eventsNamed('connection.closed');
    expect(closed).toHaveLength(3);
    for (const e of closed) expect(e).toMatchObject({ code: 1012, cause: 'server_shutdown', resumable: true });
  });

  it('while draining, upgrades get 503 DRAINING with Retry-After before any other check; the wait is bounded by drainTimeoutMs', async () => {
    const DRAIN = 5000;
    t = await TestApp.create({ options: { drainTimeoutMs: DRAIN, retryAfterS: 7, rateLimitPoints: 4 } });
    const quick = await t.connect({ sub: 'bob' });
    await quick.join('c1');
    peers.push(await frozenIn(t, 'alice', 'c1'));

    const started = Date.now();
    const closing = t.app.close();
    await t.until(() => t.get(LifecycleState).draining, 3000, 'draining');
    expect(await quick.closed).toEqual({ code: 1012, reason: 'service restart' });

    // Valid JWT, no credential, a reconnect token, and more attempts than the IP limit allows:
    // all DRAINING (not 200, 401 nor 429).
    const attempts = [
      `?token=${encodeURIComponent(t.token({ sub: 'carol' }))}`,
      '',
      `?reconnectToken=${encodeURIComponent(quick.ack.reconnectToken)}`,
      ...Array.from({ length: 4 }, () => ''),
    ];
    for (const query of attempts) {
      const refusal = await t.refusal(query);
      expect(refusal.status).toBe(503);
      expect(refusal.body).toEqual({ error: { code: 'DRAINING', message: expect.any(String) } });
      expect(refusal.headers['retry-after']).toBe('7');
      expect(refusal.headers['content-type']).toMatch(/^application\/json/);
    }
    expect(Date.now() - started, 'the drain did not wait for the close handshake').toBeLessThan(DRAIN);

    await closing;
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(DRAIN - 100);
    expect(took).toBeLessThan(DRAIN + 5000);
    const closed = t.eventsNamed('connection.closed');
    expect(closed).toHaveLength(2);
    for (const e of closed) expect(e).toMatchObject({ cause: 'server_shutdown', resumable: true });
  });

  it('nothing in flight is lost: a message routed while a connection’s 1012 close handshake is pending is kept for its replay', async () => {
    t = await TestApp.create({ options: { drainTimeoutMs: 1500 } });
    const alice = await frozenIn(t, 'alice', 'c1');
    const bob = await frozenIn(t, 'bob', 'c1');
    peers.push(alice, bob);

    const drained = t.get(DrainService).drain();
    await t.until(() => t.get(LifecycleState).draining, 3000, 'draining');
    // bob's frame was on the wire when the server sent its 1012: the server still routes it.
    bob.sendText(JSON.stringify({ type: 'message', canvasId: 'c1', data: 'in flight' }));
    await t.until(() => t.eventsNamed('connection.message').length === 1, 3000, 'the in-flight message routed');
    await drained;
    await t.until(() => t.eventsNamed('connection.closed').length === 2, 3000, 'both closed');

    // alice resumes "elsewhere" (this instance, taking upgrades again): the message is replayed.
    t.get(LifecycleState).draining = false;
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, rooms: ['c1'], missed: 'replayed' });
    expect(await back.next()).toMatchObject({ type: 'presence_state' });
    expect(await back.next()).toMatchObject({ type: 'message', canvasId: 'c1', data: 'in flight', from: { userId: 'bob' } });
  });
});
