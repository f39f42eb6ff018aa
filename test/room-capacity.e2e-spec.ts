import { afterEach, describe, expect, it } from 'vitest';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp, type TestAppOptions } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

type Client = TestClient & { ack: any };

/** Joins c1 and returns the reply to the join (room_joined or error); a presence_state stays queued. */
function joinC1(client: Client, id: string | number) {
  return client.request({ type: 'join', canvasId: 'c1', id }, 10_000);
}

const roomFull = (id: string | number) => ({ type: 'error', code: 'ROOM_FULL', message: expect.any(String), id });
const joined = (id: string) => ({ type: 'room_joined', id, roomId: 'canvas:c1', canvasId: 'c1', pos: expect.any(String) });

describe('room capacity', () => {
  let t: TestApp;
  const start = async (opts: TestAppOptions = {}) => (t = await TestApp.create(opts));
  afterEach(async () => {
    await t?.close();
  });

  /** Connects users u0..u{n-1} (in small batches) and joins each to c1. */
  async function fillRoom(n: number): Promise<Client[]> {
    const members: Client[] = [];
    for (let i = 0; i < n; i += 10) {
      const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => t.connect({ sub: `u${i + k}`, name: `User ${i + k}` })));
      const replies = await Promise.all(batch.map((c, k) => joinC1(c, `j${i + k}`)));
      replies.forEach((r, k) => expect(r).toEqual(joined(`j${i + k}`)));
      members.push(...batch);
    }
    return members;
  }

  /** Proves `outsider` got no room frame: a member's message reached the room before outsider's ping is answered. */
  async function expectOutside(outsider: Client, sender: Client, witness: Client): Promise<void> {
    const marker = `m-${Math.random().toString(36).slice(2)}`;
    sender.send({ type: 'message', canvasId: 'c1', data: marker });
    expect(await witness.next('message', 10_000)).toMatchObject({ data: marker });
    outsider.send({ type: 'ping', id: 'p' });
    expect(await outsider.next(undefined, 10_000)).toEqual({ type: 'pong', id: 'p' });
  }

  // Default roomCapacity (100); the IP limit is raised so 100+ real connections from 127.0.0.1 get in.
  const BIG = { options: { rateLimitPoints: 10_000 } } satisfies TestAppOptions;

  it("with the default capacity, 100 distinct users get in, the 101st gets ROOM_FULL and is not in the room; a member's second tab still gets in; a left seat is reusable", async () => {
    await start(BIG);
    const members = await fillRoom(100);
    const rooms = t.get(RoomService);
    expect(await rooms.members('t1', 'c1')).toHaveLength(100);

    const late = await t.connect({ sub: 'u100', name: 'Late' });
    expect(await joinC1(late, 'full')).toEqual(roomFull('full'));
    expect(await rooms.members('t1', 'c1')).toHaveLength(100);
    await expectOutside(late, members[0], members[1]);
    late.send({ type: 'message', canvasId: 'c1', data: 'x', id: 'nir' });
    expect(await late.next()).toEqual({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id: 'nir' });

    // a member's second tab is not a new user
    const tab = await t.connect({ sub: 'u7', name: 'User 7' });
    expect(await joinC1(tab, 'tab')).toEqual(joined('tab'));
    const state = await tab.next('presence_state', 10_000);
    expect(state.members).toHaveLength(100);
    expect(state.members).toContainEqual({ userId: 'u7', name: 'User 7', connections: 2 });

    // still full for new users
    expect(await joinC1(late, 'full2')).toEqual(roomFull('full2'));

    // one user leaves: the seat goes to the 101st
    expect(await members[5].request({ type: 'leave', canvasId: 'c1', id: 'bye' })).toEqual({
      type: 'room_left',
      id: 'bye',
      roomId: 'canvas:c1',
      canvasId: 'c1',
    });
    expect(await joinC1(late, 'seat')).toEqual(joined('seat'));
    const lateState = await late.next('presence_state', 10_000);
    expect(lateState.members).toHaveLength(100);
    expect(lateState.members).toContainEqual({ userId: 'u100', name: 'Late', connections: 1 });
    expect(lateState.members.some((m: any) => m.userId === 'u5')).toBe(false);

    // and the 102nd is refused again
    const later = await t.connect({ sub: 'u101' });
    expect(await joinC1(later, 'full3')).toEqual(roomFull('full3'));
  }, 90_000);

  it('with the default capacity, a seat freed by a disconnect is reusable', async () => {
    await start(BIG);
    const members = await fillRoom(100);
    const late = await t.connect({ sub: 'u100' });
    expect(await joinC1(late, 'full')).toEqual(roomFull('full'));

    await members[42].close();
    await t.until(() => t.eventsNamed('room.left').some((e) => e.connectionId === members[42].ack.connectionId), 10_000, 'room.left');
    expect(await joinC1(late, 'seat')).toEqual(joined('seat'));
    expect(await t.get(RoomService).members('t1', 'c1')).toHaveLength(100);
  }, 90_000);

  it('with roomCapacity 2: the third user is refused, tabs of members are not, a freed seat is reusable', async () => {
    await start({ options: { roomCapacity: 2 } });
    const u1 = await t.connect({ sub: 'u1' });
    const u2 = await t.connect({ sub: 'u2' });
    const u3 = await t.connect({ sub: 'u3' });
    expect(await joinC1(u1, 'a')).toEqual(joined('a'));
    expect(await joinC1(u2, 'b')).toEqual(joined('b'));
    expect(await joinC1(u3, 'c')).toEqual(roomFull('c'));
    expect(await joinC1(u3, 7)).toEqual(roomFull(7));

    // the refused user caused no presence_join and is not in the room
    await expectOutside(u3, u1, u2);
    expect(u1.frames.filter((f) => f.type === 'presence_join').map((f) => f.member.userId)).toEqual(['u2']);

    const u1tab = await t.connect({ sub: 'u1' });
    expect(await joinC1(u1tab, 'tab')).toEqual(joined('tab'));
    // capacity is per room: the refused user can use another canvas
    expect(await u3.request({ type: 'join', canvasId: 'c2', id: 'other' })).toEqual({
      type: 'room_joined',
      id: 'other',
      roomId: 'canvas:c2',
      canvasId: 'c2',
      pos: expect.any(String),
    });

    // u1 has two tabs: closing one does not free the seat, closing both does
    await u1.close();
    await t.until(() => t.eventsNamed('room.left').some((e) => e.connectionId === u1.ack.connectionId), 5000, 'room.left');
    expect(await joinC1(u3, 'd')).toEqual(roomFull('d'));
    expect(await u1tab.request({ type: 'leave', canvasId: 'c1', id: 'l' })).toMatchObject({ type: 'room_left', id: 'l' });
    expect(await joinC1(u3, 'e')).toEqual(joined('e'));
  });
});
