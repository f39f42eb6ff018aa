import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';

/**
 * Seats are not held while a user is away (issue 3): on resume, a room that filled up
 * meanwhile is left out of `rooms`, and an `error` frame {code:'ROOM_FULL', canvasId} follows
 * the ack, before the presence_state frames.
 */

describe('resume: seats are not held while away', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('a room that filled up meanwhile is left out of rooms; ROOM_FULL {canvasId} follows the ack before presence_state', async () => {
    t = await TestApp.create({ options: { roomCapacity: 2 } });
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await alice.join('c2');
    await bob.join('c1');
    await bob.join('c2');
    await alice.close();
    await bob.next('presence_leave');
    await bob.next('presence_leave');

    // carol takes alice's seat in c1 (now full: bob, carol); c2 still has room.
    const carol = await t.connect({ sub: 'carol' });
    expect(await carol.join('c1')).toMatchObject({ type: 'room_joined', canvasId: 'c1', pos: expect.any(String) });
    await bob.settle();
    bob.send({ type: 'message', canvasId: 'c1', data: 'to the full room' });
    bob.send({ type: 'message', canvasId: 'c2', data: 'to c2' });
    await t.until(() => t.eventsNamed('connection.message').length === 2);

    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId, rooms: ['c2'] });
    expect(await back.next()).toStrictEqual({ type: 'error', code: 'ROOM_FULL', message: expect.any(String), canvasId: 'c1' });
    expect(await back.next()).toMatchObject({ type: 'presence_state', canvasId: 'c2' });
    const rest = await back.settle(); // the rest of the resume's burst
    // Only the restored room's messages are replayed.
    expect(rest.map((f) => [f.type, f.canvasId, f.data])).toEqual([['message', 'c2', 'to c2']]);
    expect(t.eventsNamed('session.resumed')[0]).toMatchObject({ rooms: ['c2'] });

    // Not in c1: sending there is NOT_IN_ROOM, joining it is ROOM_FULL.
    expect(await back.request({ type: 'message', canvasId: 'c1', data: 1 })).toMatchObject({ type: 'error', code: 'NOT_IN_ROOM' });
    expect(await back.request({ type: 'join', canvasId: 'c1' })).toMatchObject({ type: 'error', code: 'ROOM_FULL' });
  });

  it('with every room full: rooms [], one ROOM_FULL per room, no presence_state', async () => {
    t = await TestApp.create({ options: { roomCapacity: 1 } });
    const alice = await t.connect({ sub: 'alice' });
    await alice.join('c1');
    await alice.join('c2');
    await alice.close();
    await t.until(() => t.eventsNamed('room.left').length === 2);
    const bob = await t.connect({ sub: 'bob' });
    await bob.join('c1');
    await bob.join('c2');

    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, rooms: [] });
    const errors = [await back.next(), await back.next()];
    expect(errors.map((f) => [f.type, f.code]).sort()).toEqual([
      ['error', 'ROOM_FULL'],
      ['error', 'ROOM_FULL'],
    ]);
    expect(errors.map((f) => f.canvasId).sort()).toEqual(['c1', 'c2']);
    expect(await back.settle()).toEqual([]);
  });
});
