import { afterEach, describe, expect, it } from 'vitest';
import { SessionStore } from '../src/domain/ports/session-store.port.js';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';
import { expectResumeRefused } from './support/continuity.js';

/**
 * Resume with a reconnect token (issue 3): the acks, the restored rooms and presence, and the
 * replay of what was missed (order across rooms, exactly once, bounded by messages and bytes).
 */

/** Sends messages one at a time, each after the server has routed the previous one. */
async function sendInOrder(t: TestApp, items: Array<[TestClient, string, unknown]>): Promise<void> {
  for (const [client, canvasId, data] of items) {
    const before = t.eventsNamed('connection.message').length;
    client.send({ type: 'message', canvasId, data });
    await t.until(() => t.eventsNamed('connection.message').length === before + 1, 3000, 'connection.message');
  }
}

/** Every string reachable from an object (Maps, Sets, arrays, fields), for "only a hash is stored". */
function stringsIn(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object' || seen.has(value)) return [];
  seen.add(value);
  const children = value instanceof Map ? [...value.keys(), ...value.values()] : value instanceof Set ? [...value] : Object.values(value);
  return children.flatMap((c) => stringsIn(c, seen));
}

describe('resume: acks, rooms, presence and replay', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('a fresh ack has no `missed` and a high-entropy base64url reconnect token; only a hash of it is stored', async () => {
    t = await TestApp.create();
    const a = await t.connect({ sub: 'alice' });
    const b = await t.connect({ sub: 'alice' });
    for (const c of [a, b]) {
      expect(c.ack).not.toHaveProperty('missed');
      expect(c.ack.resumed).toBe(false);
      expect(c.ack.reconnectToken).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      expect(Buffer.from(c.ack.reconnectToken, 'base64url').length).toBeGreaterThanOrEqual(16); // ≥ 128 bits
    }
    expect(a.ack.reconnectToken).not.toBe(b.ack.reconnectToken);
    expect(a.ack.sessionId).not.toBe(b.ack.sessionId);
    const stored = stringsIn(t.get(SessionStore));
    expect(stored.length).toBeGreaterThan(0);
    for (const c of [a, b]) expect(stored.filter((s) => s.includes(c.ack.reconnectToken))).toEqual([]);
  });

  it('restores rooms and presence, then replays what was missed across rooms in send order, exactly once, then goes live', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice', name: 'Alice' });
    const bob = await t.connect({ sub: 'bob' });
    const carol = await t.connect({ sub: 'carol' });
    for (const c of ['c1', 'c2']) await alice.join(c);
    for (const c of ['c1', 'c2', 'c3']) await bob.join(c);
    await carol.join('c2');
    await alice.settle();
    alice.send({ type: 'message', canvasId: 'c1', data: 'own, before leaving' });
    await t.until(() => t.eventsNamed('connection.message').length === 1);

    await alice.close(1000);
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    await sendInOrder(t, [
      [bob, 'c1', 0],
      [carol, 'c2', 1],
      [bob, 'c3', 'not alice’s room'],
      [bob, 'c2', 2],
      [bob, 'c1', 3],
      [carol, 'c2', 4],
    ]);

    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toStrictEqual({
      type: 'connection_ack',
      connectionId: expect.any(String),
      sessionId: alice.ack.sessionId,
      userId: 'alice',
      tenantId: 't1',
      reconnectToken: expect.any(String),
      heartbeatIntervalMs: 30000,
      resumed: true,
      rooms: expect.arrayContaining(['c1', 'c2']),
      missed: 'replayed',
      lastSeq: 0,
    });
    expect(back.ack.rooms).toHaveLength(2);
    expect(back.ack.connectionId).not.toBe(alice.ack.connectionId);
    expect(back.ack.reconnectToken).not.toBe(alice.ack.reconnectToken);

    const states = [await back.next(), await back.next()];
    expect(states.map((f) => f.type)).toEqual(['presence_state', 'presence_state']);
    const byCanvas = Object.fromEntries(states.map((f) => [f.canvasId, f]));
    expect(byCanvas.c1).toStrictEqual({
      type: 'presence_state',
      roomId: 'canvas:c1',
      canvasId: 'c1',
      members: expect.arrayContaining([
        { userId: 'alice', name: 'Alice', connections: 1 },
        { userId: 'bob', connections: 1 },
      ]),
    });
    expect(byCanvas.c1.members).toHaveLength(2);
    expect(byCanvas.c2.members).toHaveLength(3);

    const replay = [];
    for (let i = 0; i < 5; i++) replay.push(await back.next());
    expect(replay.map((f) => [f.canvasId, f.data])).toEqual([
      ['c1', 0],
      ['c2', 1],
      ['c2', 2],
      ['c1', 3],
      ['c2', 4],
    ]);
    expect(replay[0]).toStrictEqual({
      type: 'message',
      pos: expect.any(String),
      roomId: 'canvas:c1',
      canvasId: 'c1',
      from: { userId: 'bob', connectionId: bob.ack.connectionId },
      data: 0,
    });
    expect(await back.settle()).toEqual([]);
    expect(t.eventsNamed('session.resumed')).toEqual([
      expect.objectContaining({
        sessionId: alice.ack.sessionId,
        connectionId: back.ack.connectionId,
        previousConnectionId: alice.ack.connectionId,
        missed: 'replayed',
      }),
    ]);

    // Live again: the next message arrives once, as usual.
    await bob.settle();
    bob.send({ type: 'message', canvasId: 'c1', data: 'live' });
    expect(await back.next('message')).toMatchObject({ canvasId: 'c1', data: 'live' });
    expect(await back.settle()).toEqual([]);
  });

  it('nothing missed: resumed ack says missed "none", presence_state follows and nothing else', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    await alice.join('c1');
    await alice.close(1001);
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId, rooms: ['c1'], missed: 'none' });
    expect(await back.next()).toStrictEqual({ type: 'presence_state', roomId: 'canvas:c1', canvasId: 'c1', members: [{ userId: 'alice', connections: 1 }] });
    expect(await back.settle()).toEqual([]);
  });

  it('a session without rooms resumes with rooms [] and missed "none"', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    await alice.close();
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId, rooms: [], missed: 'none' });
    expect(await back.settle()).toEqual([]);
  });

  it.each([
    [3, 5, 'truncated', [2, 3, 4]],
    [3, 3, 'replayed', [0, 1, 2]],
  ])('replay bound of %i messages, %i sent while away: missed "%s", the newest kept', async (bound, sent, missed, expected) => {
    t = await TestApp.create({ options: { resumeBufferMessages: bound } });
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await bob.join('c1');
    await alice.close();
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    await sendInOrder(
      t,
      Array.from({ length: sent }, (_, i): [TestClient, string, unknown] => [bob, 'c1', i]),
    );
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, missed });
    expect(await back.next()).toMatchObject({ type: 'presence_state', canvasId: 'c1' });
    const replay = [];
    for (let i = 0; i < expected.length; i++) replay.push(await back.next());
    expect(replay.map((f) => [f.type, f.data])).toEqual(expected.map((i) => ['message', i]));
    expect(await back.settle()).toEqual([]);
  });

  it('the replay is also bounded by bytes: missed "truncated", the newest that fit are kept', async () => {
    // Every frame has the same size (uuid connection ids are 36 chars): room for exactly 2.
    const data = { pad: 'x'.repeat(200), i: 0 };
    const frameBytes = Buffer.byteLength(
      `{"type":"message","roomId":"canvas:c1","canvasId":"c1","from":{"userId":"bob","connectionId":"${'0'.repeat(36)}"},"data":${JSON.stringify(data)}}`,
    );
    t = await TestApp.create({ options: { resumeBufferBytes: 2 * frameBytes + Math.floor(frameBytes / 2) } });
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await bob.join('c1');
    await alice.close();
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    await sendInOrder(
      t,
      Array.from({ length: 5 }, (_, i): [TestClient, string, unknown] => [bob, 'c1', { ...data, i }]),
    );
    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, missed: 'truncated' });
    expect(await back.next()).toMatchObject({ type: 'presence_state' });
    const replay = [await back.next(), await back.next()];
    expect(replay.map((f) => f.data.i)).toEqual([3, 4]);
    expect(await back.settle()).toEqual([]);
  });

  it('the resumed ack carries a new reconnect token that resumes again later; the used ones stay refused', async () => {
    t = await TestApp.create();
    const first = await t.connect({ sub: 'alice' });
    await first.join('c1');
    await first.close();
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    const second = await t.resume(first.ack.reconnectToken);
    await second.close();
    await t.until(() => t.eventsNamed('connection.closed').length === 2);
    const third = await t.resume(second.ack.reconnectToken);
    expect(third.ack).toMatchObject({ resumed: true, sessionId: first.ack.sessionId, rooms: ['c1'] });
    expect(new Set([first.ack.connectionId, second.ack.connectionId, third.ack.connectionId]).size).toBe(3);
    await expectResumeRefused(t, first.ack.reconnectToken);
    await expectResumeRefused(t, second.ack.reconnectToken);
  });
});
