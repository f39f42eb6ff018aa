import { afterEach, describe, expect, it } from 'vitest';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp, type TestAppOptions } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

type Client = TestClient & { ack: any };
const C1 = { roomId: 'canvas:c1', canvasId: 'c1' };

/** Joins c1; asserts room_joined then presence_state and returns the state. */
async function enter(client: Client, id = 'j1'): Promise<ServerFrame> {
  client.send({ type: 'join', canvasId: 'c1', id });
  expect(await client.next()).toEqual({ type: 'room_joined', id, ...C1, pos: expect.any(String) });
  const state = await client.next();
  expect(state.type).toBe('presence_state');
  return state;
}

const sorted = (members: any[]) => [...members].sort((a, b) => a.userId.localeCompare(b.userId));

describe('tenant isolation (two tenants, both on canvasId c1)', () => {
  let t: TestApp;
  const start = async (opts: TestAppOptions = {}) => (t = await TestApp.create(opts));
  afterEach(async () => {
    await t?.close();
  });

  it('no message, presence_join, presence_state member or presence_leave crosses tenants', async () => {
    await start();
    const ann = await t.connect({ sub: 'ann', tenantId: 'acme', name: 'Ann' });
    const xia = await t.connect({ sub: 'xia', tenantId: 'globex', name: 'Xia' });
    expect(ann.ack.tenantId).toBe('acme');
    expect(xia.ack.tenantId).toBe('globex');

    expect(await enter(ann)).toEqual({ type: 'presence_state', ...C1, members: [{ userId: 'ann', name: 'Ann', connections: 1 }] });
    // globex's room is empty but for Xia: Ann is not a member of it
    expect(await enter(xia)).toEqual({ type: 'presence_state', ...C1, members: [{ userId: 'xia', name: 'Xia', connections: 1 }] });

    // presence_join stays in its tenant: the first frame Ann gets is about Bob, not Xia
    const bob = await t.connect({ sub: 'bob', tenantId: 'acme', name: 'Bob' });
    expect(sorted((await enter(bob)).members)).toEqual([
      { userId: 'ann', name: 'Ann', connections: 1 },
      { userId: 'bob', name: 'Bob', connections: 1 },
    ]);
    expect(await ann.next()).toEqual({ type: 'presence_join', ...C1, member: { userId: 'bob', name: 'Bob', connections: 1 } });
    const yan = await t.connect({ sub: 'yan', tenantId: 'globex', name: 'Yan' });
    expect(sorted((await enter(yan)).members)).toEqual([
      { userId: 'xia', name: 'Xia', connections: 1 },
      { userId: 'yan', name: 'Yan', connections: 1 },
    ]);
    expect(await xia.next()).toEqual({ type: 'presence_join', ...C1, member: { userId: 'yan', name: 'Yan', connections: 1 } });

    // messages stay in their tenant
    ann.send({ type: 'message', canvasId: 'c1', data: 'acme only' });
    expect(await bob.next()).toMatchObject({ type: 'message', data: 'acme only', from: { userId: 'ann' } });
    xia.send({ type: 'message', canvasId: 'c1', data: 'globex only' });
    expect(await yan.next()).toMatchObject({ type: 'message', data: 'globex only', from: { userId: 'xia' } });
    // both were handled; the next frame each one gets comes from its own tenant
    await relay(ann, bob);
    await relay(bob, ann);
    await relay(xia, yan);
    await relay(yan, xia);

    // presence_leave stays in its tenant
    await ann.close();
    expect(await bob.next()).toEqual({ type: 'presence_leave', ...C1, userId: 'ann' });
    await relay(yan, xia);
    await relay(xia, yan);
    await xia.close();
    expect(await yan.next()).toEqual({ type: 'presence_leave', ...C1, userId: 'xia' });
    // xia's leave was handled; the next frame Bob gets is about his own tenant
    const cara = await t.connect({ sub: 'cara', tenantId: 'acme' });
    expect(sorted((await enter(cara)).members)).toEqual([
      { userId: 'bob', name: 'Bob', connections: 1 },
      { userId: 'cara', connections: 1 },
    ]);
    expect(await bob.next()).toEqual({ type: 'presence_join', ...C1, member: { userId: 'cara', connections: 1 } });
  });

  it('the same userId in two tenants is two different users: presence and capacity are separate', async () => {
    await start({ options: { roomCapacity: 1 } });
    const a1 = await t.connect({ sub: 'u1', tenantId: 't1', name: 'A' });
    expect((await enter(a1)).members).toEqual([{ userId: 'u1', name: 'A', connections: 1 }]);

    // u1 of t2 is not a second tab of u1 of t1: own room, own seat, own name, one connection
    const b1 = await t.connect({ sub: 'u1', tenantId: 't2', name: 'B' });
    expect((await enter(b1)).members).toEqual([{ userId: 'u1', name: 'B', connections: 1 }]);
    const a2 = await t.connect({ sub: 'u1', tenantId: 't1', name: 'A' });
    expect((await enter(a2)).members).toEqual([{ userId: 'u1', name: 'A', connections: 2 }]);

    // each room is full with its own u1
    for (const tenantId of ['t1', 't2']) {
      const other = await t.connect({ sub: 'u2', tenantId });
      other.send({ type: 'join', canvasId: 'c1', id: `full-${tenantId}` });
      expect(await other.next()).toEqual({ type: 'error', code: 'ROOM_FULL', message: expect.any(String), id: `full-${tenantId}` });
    }

    // t2's u1 leaving is not t1's u1 leaving: no presence_leave in t1, t1 membership unchanged
    await b1.close();
    await t.until(() => t.eventsNamed('room.left').some((e) => e.connectionId === b1.ack.connectionId), 5000, 'room.left');
    await relay(a1, a2);
    await relay(a2, a1);
    const rooms = t.get(RoomService);
    expect(await rooms.members('t1', 'c1')).toEqual([{ userId: 'u1', name: 'A', connections: 2 }]);
    expect(await rooms.members('t2', 'c1')).toEqual([]);

    // t2's seat is free again, t1's is not
    const late2 = await t.connect({ sub: 'u2', tenantId: 't2' });
    expect((await enter(late2)).members).toEqual([{ userId: 'u2', connections: 1 }]);
    const late1 = await t.connect({ sub: 'u2', tenantId: 't1' });
    late1.send({ type: 'join', canvasId: 'c1', id: 'still-full' });
    expect(await late1.next()).toEqual({ type: 'error', code: 'ROOM_FULL', message: expect.any(String), id: 'still-full' });
  });

  it('tenants whose ids hold key delimiters (":", "@", "{", "}", "%") still never share a room', async () => {
    await start();
    const tenants = ['a', 'a@b', 'b', 'a:b', '{a}', 'a%40b', 'é租'];
    const clients: Client[] = [];
    for (const tenantId of tenants) {
      const c = await t.connect({ sub: 'u1', tenantId, name: tenantId });
      clients.push(c);
      expect((await enter(c)).members).toEqual([{ userId: 'u1', name: tenantId, connections: 1 }]);
    }
    clients[1].send({ type: 'message', canvasId: 'c1', data: 'a@b only' });
    await t.until(() => t.eventsNamed('connection.message').length === 1, 5000, 'the message');
    for (const c of clients) {
      c.send({ type: 'ping', id: 'p' });
      expect(await c.next()).toEqual({ type: 'pong', id: 'p' });
    }
  });

  it('a tenant id holding a lone UTF-16 surrogate (valid in a JWT) still gets an answer to join', async () => {
    await start();
    const tenantId = JSON.parse('"t\\ud800"') as string;
    const c = await t.connect({ sub: 'u1', tenantId });
    expect(c.ack.tenantId).toBe(tenantId);
    c.send({ type: 'join', canvasId: 'c1', id: 'j' });
    expect(await c.next()).toEqual({ type: 'room_joined', id: 'j', ...C1, pos: expect.any(String) });
  });
});

/** `from` sends a marker message to c1; it must be the very next frame `to` receives. */
async function relay(from: Client, to: Client): Promise<void> {
  const marker = `from-${from.ack.userId}-${Math.random().toString(36).slice(2)}`;
  from.send({ type: 'message', canvasId: 'c1', data: marker });
  expect(await to.next()).toEqual({
    type: 'message',
    ...C1,
    from: { userId: from.ack.userId, connectionId: from.ack.connectionId },
    data: marker,
    pos: expect.any(String),
  });
}
