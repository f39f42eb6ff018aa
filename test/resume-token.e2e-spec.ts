import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';
import { expAfter, expectResumeRefused, sleep, stamp } from './support/continuity.js';

/**
 * The reconnect token on the upgrade (issue 3): single use, 401 when used/unknown/expired,
 * the TTL and `session.expired`, a JWT given with it (same user, its expiry governs, a refused
 * attempt does not use the token up), and the session keeping the original JWT's expiry.
 */

/** Connects alice, joins `rooms`, closes normally and waits until the server has finalized the close. */
async function awayAlice(t: TestApp, rooms: string[] = ['c1'], claims: Record<string, unknown> = {}): Promise<TestClient & { ack: any }> {
  const alice = await t.connect({ sub: 'alice', ...claims });
  for (const c of rooms) await alice.join(c);
  const before = t.eventsNamed('connection.closed').length;
  await alice.close(1000);
  await t.until(() => t.eventsNamed('connection.closed').length === before + 1, 3000, 'connection.closed');
  return alice;
}

describe('resume: the reconnect token', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('is single use: a second upgrade with it gets 401, also after the resumed connection closed again', async () => {
    t = await TestApp.create();
    const alice = await awayAlice(t);
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId });
    await expectResumeRefused(t, alice.ack.reconnectToken);
    await back.close();
    await t.until(() => t.eventsNamed('connection.closed').length === 2);
    await expectResumeRefused(t, alice.ack.reconnectToken);
    expect(t.eventsNamed('session.resumed')).toHaveLength(1);
  });

  it('an unknown token gets 401', async () => {
    t = await TestApp.create();
    await awayAlice(t);
    await expectResumeRefused(t, randomBytes(24).toString('base64url'));
    await expectResumeRefused(t, 'x');
  });

  it('after the TTL: 401, and session.expired with the rooms; a resume within the TTL works', async () => {
    const TTL = 300;
    t = await TestApp.create({ options: { reconnectTokenTtlMs: TTL } });
    const alice = await awayAlice(t, ['c1', 'c2']);
    const closedAt = Date.now();
    await t.until(() => t.eventsNamed('session.expired').length === 1, 5000, 'session.expired');
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(TTL - 50);
    const expired = t.eventsNamed('session.expired')[0];
    expect(expired).toMatchObject({ sessionId: alice.ack.sessionId, userId: 'alice', tenantId: 't1' });
    expect([...expired.rooms].sort()).toEqual(['c1', 'c2']);
    await expectResumeRefused(t, alice.ack.reconnectToken);

    // Within the TTL (same app) it works, and a resumed session does not expire later.
    const bob = await t.connect({ sub: 'bob' });
    await bob.close();
    await t.until(() => t.eventsNamed('connection.closed').length === 2);
    const back = await t.resume(bob.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: bob.ack.sessionId });
    await sleep(TTL + 300);
    expect(t.eventsNamed('session.expired')).toHaveLength(1);
  });

  it('with a JWT of the same user: resumes, and the JWT’s expiry governs the resumed connection', async () => {
    t = await TestApp.create({ options: { reauthGraceMs: 30_000 } });
    const alice = await awayAlice(t); // original JWT: 1 h
    const exp = expAfter(1500);
    const back = await t.resume(alice.ack.reconnectToken, { sub: 'alice', exp });
    const log = stamp(back);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId, rooms: ['c1'] });
    expect(await back.next('reauth_required', 5000)).toMatchObject({ type: 'reauth_required', reason: 'token_expired' });
    expect(log.find((s) => s.frame.type === 'reauth_required')!.at).toBeGreaterThanOrEqual(exp * 1000 - 30);
  });

  it.each([
    ['another user', { sub: 'mallory' }],
    ['the same sub of another tenant', { sub: 'alice', tenantId: 't2' }],
  ])('with a valid JWT of %s: 401, and the reconnect token still works afterwards', async (_what, claims) => {
    t = await TestApp.create();
    const alice = await awayAlice(t);
    await expectResumeRefused(t, alice.ack.reconnectToken, t.token(claims));
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId, userId: 'alice', rooms: ['c1'] });
  });

  it('with an invalid JWT (bad signature, expired): 401, and the reconnect token still works afterwards', async () => {
    t = await TestApp.create();
    const alice = await awayAlice(t);
    await expectResumeRefused(t, alice.ack.reconnectToken, t.token({ sub: 'alice' }, {}, 'wrong-secret-wrong-secret-wrong-secret'));
    await expectResumeRefused(t, alice.ack.reconnectToken, t.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }));
    await expectResumeRefused(t, alice.ack.reconnectToken, 'garbage');
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId });
  });

  it('the resumed session keeps the original JWT’s deadline: past exp, reauth_required follows the ack at once with what is LEFT of the grace, and 4001 comes at exp + grace', async () => {
    const GRACE = 1500;
    t = await TestApp.create({ options: { reauthGraceMs: GRACE } });
    const exp = expAfter(1200);
    const deadline = exp * 1000 + GRACE;
    const alice = await awayAlice(t, ['c1'], { exp });
    // 1000 ms past exp: a fresh grace (the old bug) would end 1000 ms after the deadline.
    await sleep(exp * 1000 + 1000 - Date.now());

    const sentAt = Date.now();
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, rooms: ['c1'] });
    const reauth = await back.next();
    expect(reauth).toStrictEqual({ type: 'reauth_required', reason: 'token_expired', graceMs: expect.any(Number) });
    // Never a fresh grace: at most what was left when the resume was asked for.
    expect(reauth.graceMs).toBeLessThanOrEqual(deadline - sentAt);
    expect(reauth.graceMs).toBeGreaterThan(0);
    expect(await back.next()).toMatchObject({ type: 'presence_state', canvasId: 'c1' });
    // …and it ends at the session's deadline, not `graceMs` after some later moment.
    expect(await back.closed).toEqual({ code: 4001, reason: 'token expired' });
    const closedAt = Date.now();
    expect(closedAt).toBeGreaterThanOrEqual(deadline - 30);
    expect(closedAt, 'the 4001 came well after the session deadline').toBeLessThan(deadline + 700);
  });

  it('the resumed session keeps the original JWT’s expiry: resumed before it, reauth_required comes at the original exp', async () => {
    t = await TestApp.create();
    const exp = expAfter(1500);
    const alice = await awayAlice(t, [], { exp });
    const back = await t.resume(alice.ack.reconnectToken);
    const log = stamp(back);
    expect(await back.next('reauth_required', 5000)).toMatchObject({ type: 'reauth_required' });
    const at = log.find((s) => s.frame.type === 'reauth_required')!.at;
    expect(at).toBeGreaterThanOrEqual(exp * 1000 - 30);
    expect(at).toBeLessThan(exp * 1000 + 1500);
  });
});
