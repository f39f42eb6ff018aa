import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

type Client = TestClient & { ack: any };
const room = (canvasId: string) => ({ roomId: `canvas:${canvasId}`, canvasId });

/** Joins and consumes room_joined + presence_state. */
async function enter(client: Client, canvasId: string): Promise<void> {
  client.send({ type: 'join', canvasId, id: `j-${canvasId}` });
  expect(await client.next()).toEqual({ type: 'room_joined', id: `j-${canvasId}`, ...room(canvasId), pos: expect.any(String) });
  expect(await client.next()).toMatchObject({ type: 'presence_state', ...room(canvasId) });
}

describe('leave and multi-room membership', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await TestApp.create();
  });
  afterEach(async () => {
    await t.close();
  });

  it('answers leave with room_left (exact frame, echoing a string or integer id)', async () => {
    const a = await t.connect();
    await enter(a, 'c1');
    a.send({ type: 'leave', canvasId: 'c1', id: 'r2' });
    expect(await a.next()).toEqual({ type: 'room_left', id: 'r2', roomId: 'canvas:c1', canvasId: 'c1' });

    await enter(a, 'c1');
    a.send({ type: 'leave', canvasId: 'c1', id: 42 });
    expect(await a.next()).toEqual({ type: 'room_left', id: 42, roomId: 'canvas:c1', canvasId: 'c1' });

    await enter(a, 'c1');
    a.send({ type: 'leave', canvasId: 'c1' });
    expect(await a.next()).toStrictEqual({ type: 'room_left', roomId: 'canvas:c1', canvasId: 'c1' });
    expect(await t.get(RoomService).members('t1', 'c1')).toEqual([]);
  });

  it('answers NOT_IN_ROOM (echoing the id) to a leave of a room not joined, or already left', async () => {
    const a = await t.connect();
    a.send({ type: 'leave', canvasId: 'c1', id: 'r3' });
    expect(await a.next()).toEqual({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id: 'r3' });

    await enter(a, 'c1');
    a.send({ type: 'leave', canvasId: 'c2', id: 'other' });
    expect(await a.next()).toEqual({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id: 'other' });

    expect(await a.request({ type: 'leave', canvasId: 'c1', id: 'first' })).toMatchObject({ type: 'room_left' });
    a.send({ type: 'leave', canvasId: 'c1', id: 'second' });
    expect(await a.next()).toEqual({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id: 'second' });
    // and the connection is fine
    a.send({ type: 'ping', id: 1 });
    expect(await a.next()).toEqual({ type: 'pong', id: 1 });
  });

  it('answers BAD_REQUEST to a leave with a bad canvasId', async () => {
    const a = await t.connect();
    a.send({ type: 'leave', canvasId: 'a/b', id: 'bad' });
    expect(await a.next()).toEqual({ type: 'error', code: 'BAD_REQUEST', message: expect.any(String), id: 'bad' });
    a.send({ type: 'leave', id: 'none' });
    expect(await a.next()).toEqual({ type: 'error', code: 'BAD_REQUEST', message: expect.any(String), id: 'none' });
  });

  it('one leave removes the connection even after a double join', async () => {
    const a = await t.connect({ sub: 'u1' });
    const b = await t.connect({ sub: 'u2' });
    await enter(b, 'c1');
    await enter(a, 'c1');
    expect(await b.next()).toMatchObject({ type: 'presence_join', member: { userId: 'u1' } });
    a.send({ type: 'join', canvasId: 'c1', id: 'again' });
    expect(await a.next()).toEqual({ type: 'room_joined', id: 'again', ...room('c1'), pos: expect.any(String) });
    expect((await a.next()).type).toBe('presence_state');

    a.send({ type: 'leave', canvasId: 'c1', id: 'once' });
    expect(await a.next()).toEqual({ type: 'room_left', id: 'once', ...room('c1') });
    expect(await b.next()).toEqual({ type: 'presence_leave', ...room('c1'), userId: 'u1' });
    expect(await t.get(RoomService).members('t1', 'c1')).toEqual([{ userId: 'u2', connections: 1 }]);

    // out for real: messages go neither way
    a.send({ type: 'message', canvasId: 'c1', data: 'x', id: 'm' });
    expect(await a.next()).toEqual({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id: 'm' });
    b.send({ type: 'message', canvasId: 'c1', data: 'to nobody' });
    await t.until(() => t.eventsNamed('connection.message').length === 1, 5000, 'the message');
    a.send({ type: 'ping', id: 'p' });
    expect(await a.next()).toEqual({ type: 'pong', id: 'p' });
    // no second presence_leave either
    expect(await b.settle()).toEqual([]);
  });

  it('a user may be in many rooms at once; leaving one keeps the others', async () => {
    const a = await t.connect({ sub: 'u1' });
    const b = await t.connect({ sub: 'u2' });
    const c = await t.connect({ sub: 'u3' });
    await enter(b, 'c1');
    await enter(c, 'c2');
    for (const canvasId of ['c1', 'c2', 'c3']) await enter(a, canvasId);
    expect(await b.next()).toMatchObject({ type: 'presence_join', canvasId: 'c1' });
    expect(await c.next()).toMatchObject({ type: 'presence_join', canvasId: 'c2' });

    // messages go to the named room only
    a.send({ type: 'message', canvasId: 'c2', data: 'to c2' });
    expect(await c.next()).toMatchObject({ type: 'message', canvasId: 'c2', data: 'to c2' });
    a.send({ type: 'message', canvasId: 'c1', data: 'to c1' });
    expect(await b.next()).toMatchObject({ type: 'message', canvasId: 'c1', data: 'to c1' });

    // leaving c1 leaves c2 and c3 alone
    expect(await a.request({ type: 'leave', canvasId: 'c1', id: 'l1' })).toEqual({ type: 'room_left', id: 'l1', ...room('c1') });
    expect(await b.next()).toEqual({ type: 'presence_leave', ...room('c1'), userId: 'u1' });
    a.send({ type: 'message', canvasId: 'c2', data: 'still in c2' });
    expect(await c.next()).toMatchObject({ type: 'message', canvasId: 'c2', data: 'still in c2' });
    c.send({ type: 'message', canvasId: 'c2', data: 'back' });
    expect(await a.next()).toMatchObject({ type: 'message', canvasId: 'c2', data: 'back', from: { userId: 'u3' } });
    const rooms = t.get(RoomService);
    expect(await rooms.members('t1', 'c3')).toEqual([{ userId: 'u1', connections: 1 }]);

    // a disconnect leaves every room: presence_leave in c2, c3 emptied
    await a.close();
    expect(await c.next()).toEqual({ type: 'presence_leave', ...room('c2'), userId: 'u1' });
    await t.until(() => t.eventsNamed('room.left').filter((e) => e.connectionId === a.ack.connectionId).length === 3, 5000, 'room.left x3');
    expect(await rooms.members('t1', 'c3')).toEqual([]);
    expect(await rooms.members('t1', 'c1')).toEqual([{ userId: 'u2', connections: 1 }]);
  });
});
