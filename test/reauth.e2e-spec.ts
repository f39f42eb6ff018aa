import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TEST_SECRET, TestApp } from './support/test-app.js';
import { expAfter, expectResumeRefused, sleep, stamp } from './support/continuity.js';

/**
 * Token expiry during a session (issue 3): at `exp` (+ clockToleranceS) the server sends
 * reauth_required {reason:'token_expired', graceMs}; the connection keeps working during the
 * grace; a valid `reauth` answers reauth_ok and moves the expiry; otherwise close 4001.
 * Timing: JWT `exp` is whole seconds, so tokens expire 1.5–2.5 s ahead; the arrival time of a
 * frame is compared with `exp` itself (never earlier, with 30 ms for clock granularity).
 */

const EARLY_MS = 30;

describe('reauth on token expiry', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('at exp: reauth_required, frames still served during the grace, then close 4001 "token expired" (auth.expired, not resumable)', async () => {
    const GRACE = 2500;
    t = await TestApp.create({ options: { reauthGraceMs: GRACE } });
    const exp = expAfter(1500);
    const alice = await t.connect({ sub: 'alice', exp });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await bob.join('c1');
    await alice.settle();
    await bob.settle();
    const log = stamp(alice);

    const reauth = await alice.next('reauth_required', 5000);
    expect(reauth).toStrictEqual({ type: 'reauth_required', reason: 'token_expired', graceMs: GRACE });
    const reauthAt = log.find((s) => s.frame.type === 'reauth_required')!.at;
    expect(reauthAt, 'reauth_required came before exp').toBeGreaterThanOrEqual(exp * 1000 - EARLY_MS);
    expect(reauthAt).toBeLessThan(exp * 1000 + 1500);
    expect(log.filter((s) => s.at < reauthAt)).toEqual([]);

    // During the grace: ping answered, messages both ways.
    expect(await alice.request({ type: 'ping', id: 'p1' })).toStrictEqual({ type: 'pong', id: 'p1' });
    alice.send({ type: 'message', canvasId: 'c1', data: 'from alice' });
    expect(await bob.next('message')).toMatchObject({ canvasId: 'c1', data: 'from alice', from: { userId: 'alice' } });
    bob.send({ type: 'message', canvasId: 'c1', data: 'from bob' });
    expect(await alice.next('message')).toMatchObject({ canvasId: 'c1', data: 'from bob', from: { userId: 'bob' } });

    const closed = await alice.closed;
    const closedAt = Date.now();
    expect(closed).toEqual({ code: 4001, reason: 'token expired' });
    expect(closedAt - reauthAt, 'closed before the grace ended').toBeGreaterThanOrEqual(GRACE - EARLY_MS);
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('auth.expired')).toEqual([
      expect.objectContaining({ connectionId: alice.ack.connectionId, sessionId: alice.ack.sessionId, userId: 'alice', tenantId: 't1' }),
    ]);
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({ connectionId: alice.ack.connectionId, code: 4001, cause: 'token_expired', resumable: false });
    await expectResumeRefused(t, alice.ack.reconnectToken);
  });

  it('a valid reauth during the grace answers reauth_ok {id, expiresAt} and no 4001 follows (auth.reauthenticated)', async () => {
    const GRACE = 2000;
    t = await TestApp.create({ options: { reauthGraceMs: GRACE } });
    const alice = await t.connect({ sub: 'alice', exp: expAfter(1500) });
    await alice.next('reauth_required', 5000);
    const newExp = Math.floor(Date.now() / 1000) + 3600;
    alice.send({ type: 'reauth', token: t.token({ sub: 'alice', exp: newExp }), id: 'a1' });
    expect(await alice.next()).toStrictEqual({ type: 'reauth_ok', id: 'a1', expiresAt: newExp * 1000 });
    expect(t.eventsNamed('auth.reauthenticated')).toEqual([
      expect.objectContaining({ connectionId: alice.ack.connectionId, userId: 'alice', tenantId: 't1', expiresAt: newExp * 1000 }),
    ]);

    // Well past the old grace: still open, nothing else sent.
    await sleep(GRACE + 800); // a wait that proves nothing comes; the pong marks its end
    expect(await alice.settle()).toEqual([]);
    expect(alice.ws.readyState).toBe(WebSocket.OPEN);
    expect(await alice.request({ type: 'ping', id: 2 })).toStrictEqual({ type: 'pong', id: 2 });
    expect(t.eventsNamed('auth.expired')).toEqual([]);
    expect(t.eventsNamed('connection.closed')).toEqual([]);
  });

  it('a reauth token that fails verification gets UNAUTHORIZED echoing the id; the grace keeps running and ends with 4001', async () => {
    const GRACE = 2500;
    t = await TestApp.create({ options: { reauthGraceMs: GRACE } });
    const alice = await t.connect({ sub: 'alice', exp: expAfter(1500) });
    const log = stamp(alice);
    await alice.next('reauth_required', 5000);
    const reauthAt = log.find((s) => s.frame.type === 'reauth_required')!.at;

    alice.send({ type: 'reauth', token: t.token({ sub: 'alice' }, {}, 'not-the-secret-not-the-secret-not-the-secret'), id: 'bad-sig' });
    expect(await alice.next()).toStrictEqual({ type: 'error', code: 'UNAUTHORIZED', message: expect.any(String), id: 'bad-sig' });
    alice.send({ type: 'reauth', token: t.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }), id: 7 });
    expect(await alice.next()).toStrictEqual({ type: 'error', code: 'UNAUTHORIZED', message: expect.any(String), id: 7 });
    alice.send({ type: 'reauth', token: 'not.a.jwt', id: 'garbage' });
    expect(await alice.next()).toStrictEqual({ type: 'error', code: 'UNAUTHORIZED', message: expect.any(String), id: 'garbage' });
    expect(alice.ws.readyState).toBe(WebSocket.OPEN);
    expect(await alice.request({ type: 'ping', id: 'still' })).toStrictEqual({ type: 'pong', id: 'still' });

    expect(await alice.closed).toEqual({ code: 4001, reason: 'token expired' });
    expect(Date.now() - reauthAt).toBeGreaterThanOrEqual(GRACE - EARLY_MS);
    expect(t.eventsNamed('auth.reauthenticated')).toEqual([]);
    expect(t.eventsNamed('auth.expired')).toHaveLength(1);
  });

  it.each([
    ['another sub', { sub: 'mallory', tenantId: 't1' }],
    ['another tenant', { sub: 'alice', tenantId: 't2' }],
  ])('a valid token of %s: UNAUTHORIZED error first, then close 4003 "identity mismatch" (not resumable)', async (_what, claims) => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice', tenantId: 't1' });
    await alice.join('c1');
    await alice.settle();
    alice.send({ type: 'reauth', token: t.token(claims), id: 'x1' });
    expect(await alice.next()).toStrictEqual({ type: 'error', code: 'UNAUTHORIZED', message: expect.any(String), id: 'x1' });
    expect(await alice.closed).toEqual({ code: 4003, reason: 'identity mismatch' });
    expect(alice.frames).toEqual([]);
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({ code: 4003, cause: 'identity_mismatch', resumable: false });
    expect(t.eventsNamed('auth.reauthenticated')).toEqual([]);
    await expectResumeRefused(t, alice.ack.reconnectToken);
  });

  it('a reauth without a token (or an empty one) gets BAD_REQUEST echoing the id; the connection stays open', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    alice.send({ type: 'reauth', id: 'n1' });
    expect(await alice.next()).toStrictEqual({ type: 'error', code: 'BAD_REQUEST', message: expect.any(String), id: 'n1' });
    alice.send({ type: 'reauth', token: '', id: 'n2' });
    expect(await alice.next()).toStrictEqual({ type: 'error', code: 'BAD_REQUEST', message: expect.any(String), id: 'n2' });
    expect(await alice.request({ type: 'ping', id: 'p' })).toStrictEqual({ type: 'pong', id: 'p' });
    expect(t.eventsNamed('connection.closed')).toEqual([]);
  });

  it('a proactive reauth before expiry moves the expiry: nothing at the old exp, reauth_required at the new one', async () => {
    t = await TestApp.create();
    const oldExp = expAfter(1500);
    const alice = await t.connect({ sub: 'alice', exp: oldExp });
    const log = stamp(alice);
    const newExp = oldExp + 2;
    alice.send({ type: 'reauth', token: t.token({ sub: 'alice', exp: newExp }), id: 'early' });
    expect(await alice.next()).toStrictEqual({ type: 'reauth_ok', id: 'early', expiresAt: newExp * 1000 });
    expect(t.eventsNamed('auth.reauthenticated')).toEqual([expect.objectContaining({ expiresAt: newExp * 1000 })]);

    await sleep(oldExp * 1000 + 700 - Date.now());
    expect(alice.frames, 'reauth_required came at the old expiry').toEqual([]);
    expect(await alice.next('reauth_required', 5000)).toStrictEqual({ type: 'reauth_required', reason: 'token_expired', graceMs: 30000 });
    expect(log.find((s) => s.frame.type === 'reauth_required')!.at).toBeGreaterThanOrEqual(newExp * 1000 - EARLY_MS);
  });

  it('reauth_required comes at exp + clockToleranceS (tolerance 1 s)', async () => {
    t = await TestApp.create({ options: { jwt: { secret: TEST_SECRET, clockToleranceS: 1 } } });
    const exp = expAfter(1000);
    const alice = await t.connect({ sub: 'alice', exp });
    const log = stamp(alice);
    await sleep(exp * 1000 + 200 - Date.now());
    expect(alice.frames, 'reauth_required came before exp + tolerance').toEqual([]);
    expect(await alice.next('reauth_required', 5000)).toMatchObject({ type: 'reauth_required', reason: 'token_expired' });
    const at = log.find((s) => s.frame.type === 'reauth_required')!.at;
    expect(at).toBeGreaterThanOrEqual(exp * 1000 + 1000 - EARLY_MS);
    expect(at).toBeLessThan(exp * 1000 + 1000 + 1500);
  });

  it('expiry timers are per connection: reauth on one tab does not save the other tab of the same user', async () => {
    const GRACE = 2000;
    t = await TestApp.create({ options: { reauthGraceMs: GRACE } });
    const exp = expAfter(1500);
    const tab1 = await t.connect({ sub: 'alice', exp });
    const tab2 = await t.connect({ sub: 'alice', exp });
    await tab1.next('reauth_required', 5000);
    expect(await tab1.request({ type: 'reauth', token: t.token({ sub: 'alice' }) })).toMatchObject({ type: 'reauth_ok' });
    expect(await tab2.next('reauth_required', 3000)).toMatchObject({ type: 'reauth_required' });
    expect(await tab2.closed).toEqual({ code: 4001, reason: 'token expired' });
    await sleep(300);
    expect(tab1.ws.readyState).toBe(WebSocket.OPEN);
    expect(t.eventsNamed('auth.expired')).toEqual([expect.objectContaining({ connectionId: tab2.ack.connectionId })]);
  });
});
