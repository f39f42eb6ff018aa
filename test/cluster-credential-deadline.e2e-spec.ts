import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expAfter, sleep } from './support/continuity.js';
import { dumpLogsOnFailure, signToken, startDeployment, uniqueTenant, until, type Deployment } from './support/instance-harness.js';
import { chainResumes } from './support/resume-chain.js';
import { expectRefusal } from './support/upgrade-refusal.js';

/**
 * The grace belongs to the session, across instances (issue 12 §1): the credential deadline is
 * stored with the session in Redis, so resuming on another instance does not move it either, and
 * a reauth made on one instance holds on every other one (also after that instance died).
 */
const GRACE_MS = 2000;

describe('cluster: session credential deadline on Redis', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('single', 2, { WS_REAUTH_GRACE_MS: String(GRACE_MS), WS_INSTANCE_LEASE_MS: '1500' });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);
  beforeEach(async () => {
    for (const inst of d.instances) if (!inst.alive) await inst.restart();
  }, 120_000);

  /** The stored session record (JSON) in Redis, or null. */
  async function storedSession(sessionId: string): Promise<{ credentialDeadline: number } | null> {
    const [raw] = await d.redis.onEveryNode(['GET', `${d.prefix}:session:{${sessionId}}`]);
    const text = (raw ?? '').trim();
    return text === '' ? null : (JSON.parse(text) as { credentialDeadline: number });
  }

  it('chained resumes alternating between two instances cannot outlive the deadline; the first resume after it gets 401', async () => {
    const tenantId = uniqueTenant('chain');
    const [A, B] = d.instances;
    const exp = expAfter(1000);
    const deadline = exp * 1000 + GRACE_MS;
    const alice = await A.connect({ sub: 'alice', tenantId, exp });
    const bob = await B.connect({ sub: 'bob', tenantId });
    expect(await alice.join('c1')).toMatchObject({ type: 'room_joined' });
    expect(await bob.join('c1')).toMatchObject({ type: 'room_joined' });
    expect((await storedSession(alice.ack.sessionId))?.credentialDeadline).toBe(deadline);
    const talking = setInterval(() => bob.send({ type: 'message', canvasId: 'c1', data: { sentAt: Date.now() } }), 25);
    try {
      await alice.next('reauth_required', 10_000);
      await alice.close(1000);
      const chain = await chainResumes({ urlFor: (i) => d.instances[(i + 1) % 2].url, reconnectToken: alice.ack.reconnectToken, giveUpAt: deadline + 4000 });
      clearInterval(talking);

      const accepted = chain.steps.filter((s) => s.status === undefined);
      const refused = chain.steps.at(-1)!;
      expect(accepted.length, 'resumes accepted during the grace (on both instances)').toBeGreaterThanOrEqual(4);
      expect(refused).toMatchObject({ status: 401 });
      for (const s of accepted) {
        expect(s.requestedAt).toBeLessThan(deadline);
        if (s.graceMs !== undefined) expect(s.graceMs).toBeLessThanOrEqual(deadline - s.requestedAt);
      }
      // At most one resume asked for after the deadline: the refused one (one asked for just
      // before it may be refused too, the instance saw it after the deadline).
      expect(chain.steps.filter((s) => s.requestedAt >= deadline).every((s) => s === refused)).toBe(true);
      // Nothing sent after the deadline was delivered, nothing arrived later (slack: timer and
      // event-loop lag of loaded processes; without the rule the chain runs for seconds).
      const messages = chain.received.filter((r) => r.frame.type === 'message').map((r) => r.frame.data.sentAt as number);
      expect(messages.length).toBeGreaterThan(0);
      expect(Math.max(...messages), 'a message sent after the deadline was delivered').toBeLessThan(deadline + 300);
      expect(chain.received.filter((r) => r.at > deadline + 600).map((r) => r.frame.type)).toEqual([]);
      // The session is over on every instance, whichever way it ended (401 "token expired" or
      // 4001): the last reconnect tokens it handed out are refused on both. (Its Redis record may
      // outlive it briefly: an old instance's suspend can land after the session ended elsewhere;
      // it holds no usable token and expires with its TTL.)
      const tokens = chain.received.filter((r) => r.frame.type === 'connection_ack').map((r) => r.frame.reconnectToken as string);
      for (const token of tokens.slice(-3)) {
        for (const instance of [A, B]) expect((await instance.refusal(`?reconnectToken=${encodeURIComponent(token)}`)).status).toBe(401);
      }
    } finally {
      clearInterval(talking);
    }
    await bob.close();
  }, 60_000);

  it('a resume alone after the deadline on the other instance: 401 "token expired", the record is removed', async () => {
    const tenantId = uniqueTenant('late');
    const [A, B] = d.instances;
    const exp = expAfter(500);
    const alice = await A.connect({ sub: 'alice', tenantId, exp });
    await alice.close(1001);
    await sleep(exp * 1000 + GRACE_MS + 50 - Date.now());
    const r = await B.refusal(`?reconnectToken=${encodeURIComponent(alice.ack.reconnectToken)}`);
    expectRefusal(r, 401, 'UNAUTHORIZED');
    expect(r.body.error.message).toBe('token expired');
    expect(await storedSession(alice.ack.sessionId)).toBeNull();
  }, 30_000);

  it('a reauth on one instance moves the stored deadline: after that instance is killed, a resume alone elsewhere past the old deadline is accepted', async () => {
    const tenantId = uniqueTenant('reauth');
    const [A, B] = d.instances;
    const exp = expAfter(800);
    const alice = await A.connect({ sub: 'alice', tenantId, exp });
    const fresh = Math.floor(Date.now() / 1000) + 3600;
    expect(await alice.request({ type: 'reauth', token: signToken({ sub: 'alice', tenantId, exp: fresh }) })).toMatchObject({ type: 'reauth_ok' });
    // The record in Redis follows the reauth (written after reauth_ok, asynchronously).
    await until(async () => (await storedSession(alice.ack.sessionId))?.credentialDeadline === fresh * 1000 + GRACE_MS, 5000, 'the stored deadline');

    // A dies without a word: nothing of the connection is written by A any more.
    await A.stop('SIGKILL');
    await sleep(exp * 1000 + GRACE_MS + 100 - Date.now());
    const back = await B.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId, userId: 'alice' });
    expect(await back.drain(500)).toEqual([]);
    await back.close();
  }, 60_000);
});
