import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

const C1 = { roomId: 'canvas:c1', canvasId: 'c1' };

/** Joins `canvasId`, asserts room_joined then presence_state (nothing between) and returns the state. */
async function enter(client: TestClient, canvasId = 'c1', id = 'j1'): Promise<ServerFrame> {
  client.send({ type: 'join', canvasId, id });
  expect(await client.next()).toEqual({ type: 'room_joined', id, roomId: `canvas:${canvasId}`, canvasId, pos: expect.any(String) });
  const state = await client.next();
  expect(state.type).toBe('presence_state');
  return state;
}

/** presence_state members in a fixed order (the protocol does not fix one). */
function membersOf(state: ServerFrame): unknown[] {
  return [...state.members].sort((a: any, b: any) => a.userId.localeCompare(b.userId));
}

/**
 * Proves `observer` got nothing before now: `sender` (in the room) sends a message, which the
 * server writes to the observer after anything the earlier steps caused; it must come next.
 */
async function expectNothingBefore(observers: TestClient | TestClient[], sender: TestClient & { ack: any }, canvasId = 'c1'): Promise<void> {
  const marker = `marker-${Math.random().toString(36).slice(2)}`;
  sender.send({ type: 'message', canvasId, data: marker });
  for (const observer of [observers].flat()) {
    const frame = await observer.next();
    expect(frame).toMatchObject({ type: 'message', data: marker, from: { connectionId: sender.ack.connectionId } });
  }
}

describe('presence', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await TestApp.create();
  });
  afterEach(async () => {
    await t.close();
  });

  /** Resolves once the server has taken `connectionId` out of a room because its socket closed. */
  const droppedFromRoom = (connectionId: string) =>
    t.until(() => t.eventsNamed('room.left').some((e) => e.connectionId === connectionId), 5000, `room.left of ${connectionId}`);

  it("announces a user's first connection to the others with presence_join (exact frame), once, not to the joiner", async () => {
    const ann = await t.connect({ sub: 'u1', name: 'Ann' });
    expect(await enter(ann)).toEqual({ type: 'presence_state', ...C1, members: [{ userId: 'u1', name: 'Ann', connections: 1 }] });

    const bob = await t.connect({ sub: 'u2', name: 'Bob' });
    const state = await enter(bob);
    expect(state).toMatchObject({ type: 'presence_state', ...C1 });
    expect(membersOf(state)).toEqual([
      { userId: 'u1', name: 'Ann', connections: 1 },
      { userId: 'u2', name: 'Bob', connections: 1 },
    ]);
    expect(await ann.next()).toEqual({ type: 'presence_join', ...C1, member: { userId: 'u2', name: 'Bob', connections: 1 } });

    // exactly once to Ann, and Bob hears nothing about himself
    await expectNothingBefore(ann, bob);
    await expectNothingBefore(bob, ann);
  });

  it('a second tab of a present user causes no presence_join; that tab gets presence_state with connections: 2', async () => {
    const ann = await t.connect({ sub: 'u1', name: 'Ann' });
    await enter(ann);
    const bob1 = await t.connect({ sub: 'u2', name: 'Bob' });
    await enter(bob1);
    expect((await ann.next()).type).toBe('presence_join');

    const bob2 = await t.connect({ sub: 'u2', name: 'Bob' });
    const state = await enter(bob2);
    expect(membersOf(state)).toEqual([
      { userId: 'u1', name: 'Ann', connections: 1 },
      { userId: 'u2', name: 'Bob', connections: 2 },
    ]);
    // neither Ann nor Bob's first tab hears of the second tab
    await expectNothingBefore([ann, bob1], bob2);
    expect(await ann.settle()).toEqual([]);
  });

  it('closing one of two tabs causes no presence_leave; closing the last one does (exact frame)', async () => {
    const ann = await t.connect({ sub: 'u1', name: 'Ann' });
    await enter(ann);
    const bob1 = await t.connect({ sub: 'u2', name: 'Bob' });
    await enter(bob1);
    const bob2 = await t.connect({ sub: 'u2', name: 'Bob' });
    await enter(bob2);
    expect((await ann.next()).type).toBe('presence_join');

    await bob2.close();
    await droppedFromRoom(bob2.ack.connectionId);
    await expectNothingBefore(ann, bob1);
    // Bob is still present, now with one connection
    const carl = await t.connect({ sub: 'u3' });
    expect(membersOf(await enter(carl))).toEqual([
      { userId: 'u1', name: 'Ann', connections: 1 },
      { userId: 'u2', name: 'Bob', connections: 1 },
      { userId: 'u3', connections: 1 },
    ]);
    expect((await ann.next()).type).toBe('presence_join');

    await bob1.close();
    expect(await ann.next()).toEqual({ type: 'presence_leave', ...C1, userId: 'u2' });
    expect(await carl.next()).toEqual({ type: 'presence_leave', ...C1, userId: 'u2' });
    await expectNothingBefore(ann, carl);
  });

  it('a leave of the last tab causes presence_leave to the others; a leave of one of two tabs does not', async () => {
    const ann = await t.connect({ sub: 'u1', name: 'Ann' });
    await enter(ann);
    const bob1 = await t.connect({ sub: 'u2', name: 'Bob' });
    await enter(bob1);
    const bob2 = await t.connect({ sub: 'u2', name: 'Bob' });
    await enter(bob2);
    expect((await ann.next()).type).toBe('presence_join');

    expect(await bob2.request({ type: 'leave', canvasId: 'c1', id: 'l1' })).toEqual({ type: 'room_left', id: 'l1', ...C1 });
    await expectNothingBefore(ann, bob1);

    bob1.send({ type: 'leave', canvasId: 'c1', id: 'l2' });
    expect(await bob1.next()).toEqual({ type: 'room_left', id: 'l2', ...C1 });
    expect(await ann.next()).toEqual({ type: 'presence_leave', ...C1, userId: 'u2' });
    // the leaver is out: it hears nothing of the room any more
    ann.send({ type: 'message', canvasId: 'c1', data: 'after' });
    await t.until(() => t.eventsNamed('connection.message').some((e) => e.data === 'after'), 5000, 'the message');
    bob1.send({ type: 'ping', id: 'p' });
    expect(await bob1.next()).toEqual({ type: 'pong', id: 'p' });
  });

  it('a member without a name claim has no `name` key in presence_state and presence_join', async () => {
    const anon = await t.connect({ sub: 'u1' });
    const state = await enter(anon);
    expect(state.members).toHaveLength(1);
    expect(state.members[0]).toStrictEqual({ userId: 'u1', connections: 1 });
    expect(Object.keys(state.members[0]).sort()).toEqual(['connections', 'userId']);

    const other = await t.connect({ sub: 'u2' });
    await enter(other);
    const join = await anon.next();
    expect(join).toStrictEqual({ type: 'presence_join', ...C1, member: { userId: 'u2', connections: 1 } });
    expect(join.member).not.toHaveProperty('name');
  });

  it('joining again while joined: room_joined and presence_state again, nothing to the others, membership unchanged', async () => {
    const ann = await t.connect({ sub: 'u1', name: 'Ann' });
    await enter(ann);
    const bob = await t.connect({ sub: 'u2', name: 'Bob' });
    await enter(bob);
    expect((await ann.next()).type).toBe('presence_join');

    const again = await enter(bob, 'c1', 'j2');
    expect(membersOf(again)).toEqual([
      { userId: 'u1', name: 'Ann', connections: 1 },
      { userId: 'u2', name: 'Bob', connections: 1 },
    ]);
    await expectNothingBefore(ann, bob);
    expect(await ann.settle()).toEqual([]);
    expect(await bob.settle()).toEqual([]);

    // still counted once: a newcomer sees Bob with one connection
    const carl = await t.connect({ sub: 'u3' });
    expect(membersOf(await enter(carl))).toEqual([
      { userId: 'u1', name: 'Ann', connections: 1 },
      { userId: 'u2', name: 'Bob', connections: 1 },
      { userId: 'u3', connections: 1 },
    ]);
  });
});
