import { afterEach, describe, expect, it } from 'vitest';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';

/**
 * Issue 12 §4: rooms per connection are bounded (`maxRoomsPerConnection`,
 * WS_MAX_ROOMS_PER_CONNECTION, default 50). A join of one more room gets error TOO_MANY_ROOMS
 * echoing its id, takes no seat and is announced as `room.join_refused`; joining a room the
 * connection is already in stays idempotent; a leave frees a slot. (Before: one connection
 * joined 20 000 canvases in 1.8 s.)
 */

describe('rooms per connection', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('with the default of 50: the 51st room is refused with TOO_MANY_ROOMS (id echoed) and takes no seat', async () => {
    t = await TestApp.create();
    const client = await t.connect({ sub: 'greedy' });
    for (let i = 1; i <= 50; i++) expect(await client.request({ type: 'join', canvasId: `c${i}`, id: `j${i}` })).toMatchObject({ type: 'room_joined' });
    expect(await client.request({ type: 'join', canvasId: 'c51', id: 'j51' })).toEqual({
      type: 'error',
      code: 'TOO_MANY_ROOMS',
      message: 'a connection can be in at most 50 rooms',
      id: 'j51',
    });
    expect(await t.get(RoomService).members('t1', 'c51')).toEqual([]);
    expect(t.get(RoomService).localRoom('t1', 'c51')).toBeUndefined();
    expect(t.eventsNamed('room.join_refused')).toEqual([expect.objectContaining({ canvasId: 'c51', code: 'TOO_MANY_ROOMS', userId: 'greedy' })]);
  });

  it('re-joining a room already joined at the limit is idempotent; a leave frees a slot', async () => {
    t = await TestApp.create({ options: { maxRoomsPerConnection: 3 } });
    const client = await t.connect({ sub: 'u1' });
    for (const c of ['a', 'b', 'c']) await client.join(c);
    expect(await client.request({ type: 'join', canvasId: 'd', id: 'over' })).toMatchObject({ type: 'error', code: 'TOO_MANY_ROOMS', id: 'over' });
    expect(await client.request({ type: 'join', canvasId: 'b', id: 'again' })).toEqual({
      type: 'room_joined',
      id: 'again',
      roomId: 'canvas:b',
      canvasId: 'b',
      pos: expect.any(String),
    });
    expect(await client.request({ type: 'leave', canvasId: 'a', id: 'l' })).toMatchObject({ type: 'room_left' });
    expect(await client.request({ type: 'join', canvasId: 'd', id: 'now' })).toMatchObject({ type: 'room_joined', id: 'now' });
    // The bound is per connection: another tab of the same user has its own.
    const tab = await t.connect({ sub: 'u1' });
    for (const c of ['x', 'y', 'z']) expect(await tab.join(c)).toMatchObject({ type: 'room_joined' });
  });
});
