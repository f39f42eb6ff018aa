import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  dumpLogsOnFailure,
  startDeployment,
  takeFrames,
  uniqueTenant,
  until,
  waitFor,
  type ClusterClient,
  type Deployment,
} from './support/instance-harness.js';

/**
 * Issue 4, "Reconnect tokens and replay buffers": a client whose instance went away resumes on
 * another instance with its rooms and missed messages (what makes the 1012 drain useful).
 * Drain (SIGTERM): every message sent meanwhile is replayed in order. Crash (SIGKILL): the
 * session is resumable with its rooms; no buffer existed, so the ack says missed:"truncated"
 * (docs/scale-out.md, "An instance is killed").
 */
const TTL_MS = 15_000;

describe('cluster resume on single Redis', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('single', 3, { WS_INSTANCE_LEASE_MS: '1500', WS_RECONNECT_TOKEN_TTL_MS: String(TTL_MS) });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);
  beforeEach(async () => {
    // A test that drained or killed an instance leaves it down: bring it back (same port).
    for (const inst of d.instances) if (!inst.alive) await inst.restart();
  }, 120_000);

  const liveLeases = async () => Number((await d.redis.onEveryNode(['ZCARD', `${d.prefix}:instances`]))[0].trim());

  async function inRoom(client: ClusterClient, canvasId: string): Promise<void> {
    expect(await client.join(canvasId)).toMatchObject({ type: 'room_joined' });
    await client.next('presence_state', 10_000);
  }

  it('drain: the client sees 1012 and resumes on another instance with its rooms and every missed message in order', async () => {
    const tenantId = uniqueTenant('drain');
    const [A, B] = d.instances;
    const alice = await A.connect({ sub: 'alice', tenantId });
    const bob = await B.connect({ sub: 'bob', tenantId });
    await inRoom(alice, 'r1');
    await inRoom(bob, 'r1');
    takeFrames(bob, () => true);

    const exited = A.exited();
    process.kill(A.pid!, 'SIGTERM');
    expect(await alice.closed).toEqual({ code: 1012, reason: 'service restart' });
    // Once A has exited, everything it does on a drain is done.
    expect((await exited).code).toBe(0);
    for (let i = 0; i < 5; i++) bob.send({ type: 'message', canvasId: 'r1', data: { i } });
    await new Promise((r) => setTimeout(r, 300));

    const back = await B.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({
      type: 'connection_ack',
      resumed: true,
      sessionId: alice.ack.sessionId,
      userId: 'alice',
      rooms: ['r1'],
      missed: 'replayed',
    });
    expect(back.ack.connectionId).not.toBe(alice.ack.connectionId);
    const state = await back.next(undefined, 10_000);
    expect(state).toMatchObject({ type: 'presence_state', canvasId: 'r1' });
    expect(state.members.map((m: any) => m.userId).sort()).toEqual(['alice', 'bob']);
    const replay = [];
    for (let i = 0; i < 5; i++) replay.push(await back.next(undefined, 10_000));
    expect(replay.map((f) => [f.type, f.from?.userId, f.data?.i])).toEqual([0, 1, 2, 3, 4].map((i) => ['message', 'bob', i]));
    expect(await back.settle(10_000)).toEqual([]);
    // Live traffic flows again.
    bob.send({ type: 'message', canvasId: 'r1', data: { live: true } });
    expect((await back.next('message', 10_000)).data).toEqual({ live: true });
    await Promise.all([back, bob].map((c) => c.close()));
  }, 90_000);

  it('drain: the drained users leave presence (presence_leave on other instances) and leave no ghost seat', async () => {
    const tenantId = uniqueTenant('drain2');
    const [A, B, C] = d.instances;
    const alice = await A.connect({ sub: 'alice', tenantId });
    const bob = await B.connect({ sub: 'bob', tenantId });
    await inRoom(alice, 'r5');
    await inRoom(bob, 'r5');
    takeFrames(bob, () => true);

    process.kill(A.pid!, 'SIGTERM');
    expect((await A.exited()).code).toBe(0);
    expect(await waitFor(bob, (f) => f.type === 'presence_leave', 10_000, 'presence_leave of the drained user')).toEqual({
      type: 'presence_leave',
      roomId: 'canvas:r5',
      canvasId: 'r5',
      userId: 'alice',
    });
    const carol = await C.connect({ sub: 'carol', tenantId });
    await carol.join('r5');
    expect((await carol.next('presence_state', 10_000)).members.map((m: any) => m.userId).sort()).toEqual(['bob', 'carol']);
    await Promise.all([bob, carol].map((c) => c.close()));
  }, 90_000);

  it('crash: after the dead instance is purged, the session resumes elsewhere with its rooms and missed:"truncated"', async () => {
    const tenantId = uniqueTenant('kill');
    const [A, B, C] = d.instances;
    const alice = await A.connect({ sub: 'alice', tenantId });
    const bob = await B.connect({ sub: 'bob', tenantId });
    await inRoom(alice, 'r2');
    await inRoom(alice, 'r3');
    await inRoom(bob, 'r2');
    takeFrames(bob, () => true);
    await new Promise((r) => setTimeout(r, 500)); // see the note in the next test

    await A.stop('SIGKILL');
    await waitFor(bob, (f) => f.type === 'presence_leave' && f.userId === 'alice', 10_000, 'presence_leave after the purge');
    bob.send({ type: 'message', canvasId: 'r2', data: { during: 1 } });

    const back = await C.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ type: 'connection_ack', resumed: true, sessionId: alice.ack.sessionId, missed: 'truncated' });
    expect([...back.ack.rooms].sort()).toEqual(['r2', 'r3']);
    const states = [await back.next(undefined, 10_000), await back.next(undefined, 10_000)];
    expect(states.map((f) => `${f.type}:${f.canvasId}`).sort()).toEqual(['presence_state:r2', 'presence_state:r3']);
    expect(
      states
        .find((f) => f.canvasId === 'r2')!
        .members.map((m: any) => m.userId)
        .sort(),
    ).toEqual(['alice', 'bob']);
    expect(await waitFor(bob, (f) => f.type === 'presence_join', 10_000)).toMatchObject({ canvasId: 'r2', member: { userId: 'alice' } });
    // The token was used: the same one is refused now.
    expect((await B.refusal(`?reconnectToken=${encodeURIComponent(alice.ack.reconnectToken)}`)).status).toBe(401);
    await Promise.all([back, bob].map((c) => c.close()));
  }, 90_000);

  it('crash: a client that resumes at once (before the purge) keeps a resumable session after the purge', async () => {
    const tenantId = uniqueTenant('fast');
    const [A, B, C] = d.instances;
    const alice = await A.connect({ sub: 'alice', tenantId });
    const bob = await B.connect({ sub: 'bob', tenantId });
    await inRoom(alice, 'r4');
    await inRoom(bob, 'r4');
    // room_joined came after the room was in the session's stored list (RoomService.join).
    takeFrames(bob, () => true);

    await A.stop('SIGKILL');
    bob.send({ type: 'message', canvasId: 'r4', data: { gap: 1 } });
    bob.send({ type: 'message', canvasId: 'r4', data: { gap: 2 } });
    // The usual client reconnects right away: the session still looks connected on the dead
    // instance, and the token takes it over (issue 3, takeover).
    const back = await C.resume(alice.ack.reconnectToken);
    // (A restored room that could not be re-joined would be announced by an error frame, in the
    // resume's burst: all of it is ahead of the pong.)
    const early = await back.settle(10_000);
    const errors = early.filter((f) => f.type === 'error');
    back.frames.unshift(...early.filter((f) => f.type !== 'error'));
    expect({ ack: back.ack, errors }).toMatchObject({
      ack: { type: 'connection_ack', resumed: true, sessionId: alice.ack.sessionId, rooms: ['r4'] },
      errors: [],
    });
    // Two messages went to the room while alice had no live connection: the ack must not say
    // "none" (the client would keep a stale canvas). Either they are replayed, or "truncated".
    expect(['replayed', 'truncated']).toContain(back.ack.missed);
    await back.next('presence_state', 10_000);
    if (back.ack.missed === 'replayed') {
      expect((await back.next('message', 10_000)).data).toEqual({ gap: 1 });
      expect((await back.next('message', 10_000)).data).toEqual({ gap: 2 });
    }

    // The dead instance is purged (only B and C hold leases), and the reconnect token's TTL
    // passes while alice stays connected on C.
    await until(async () => (await liveLeases()) === 2, 15_000, 'the purge of the killed instance');
    await new Promise((r) => setTimeout(r, TTL_MS + 2000));
    back.send({ type: 'ping', id: 'still-here' });
    expect(await back.next('pong', 10_000)).toEqual({ type: 'pong', id: 'still-here' });

    // Alice's Wi-Fi blinks now: her current session must resume, like any other session.
    const token = (back.ack as { reconnectToken: string }).reconnectToken;
    await back.close(1001);
    const again = await B.resume(token);
    expect(again.ack).toMatchObject({ type: 'connection_ack', resumed: true, sessionId: alice.ack.sessionId, rooms: ['r4'] });
    await Promise.all([again, bob].map((c) => c.close()));
  }, 120_000);
});
