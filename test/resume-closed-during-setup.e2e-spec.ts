import { afterEach, describe, expect, it } from 'vitest';
import type { Identity } from '../src/domain/connections/identity.js';
import type { CanvasAccessPolicy } from '../src/domain/ports/canvas-access-policy.port.js';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';

/** Answers after 300 ms for the canvas "slow" (a slow database, say), counting its answers. */
class SlowPolicy implements CanvasAccessPolicy {
  static answered = 0;
  async canJoin(_identity: Identity, canvasId: string): Promise<boolean> {
    if (canvasId === 'slow') await new Promise((r) => setTimeout(r, 300));
    SlowPolicy.answered++;
    return true;
  }
}

/**
 * A resume takes a seat in each room of the session before the new connection is attached to
 * them. If the socket closes while those seats are being taken, the connection's cleanup cannot
 * see them (nothing attached them): the resume must give them back itself. Before issue 12 it
 * did not, and the seat stayed in presence and capacity for ever (a ghost), and in cluster mode
 * kept the room in the instance's room set.
 */
describe('resume closed during its set-up', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('the seats a resume took for a socket that closed meanwhile are given back: no ghost in presence', async () => {
    SlowPolicy.answered = 0;
    t = await TestApp.create({ canvasAccessPolicy: SlowPolicy });
    const rooms = t.get(RoomService);
    const first = await t.connect({ sub: 'ghost' });
    expect(await first.join('slow')).toMatchObject({ type: 'room_joined' });
    first.ws.terminate();
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'the drop');
    expect(await rooms.members('t1', 'slow')).toEqual([]);

    // Resume, and drop again at once: the seat is being taken (the policy takes 300 ms) when the socket goes.
    const again = t.rawClient(`${t.url}?reconnectToken=${encodeURIComponent(first.ack.reconnectToken)}`);
    again.ws.once('open', () => again.ws.terminate());
    await again.closed;
    await t.until(() => t.eventsNamed('connection.closed').length === 2, 3000, 'the second drop');
    // Once the policy has answered the resume, the seat is taken and the resume finds the
    // socket gone; what follows is in-memory work of a few microtasks (a short wait after the marker).
    await t.until(() => SlowPolicy.answered === 2, 3000, "the policy's answer to the resume");
    await new Promise((r) => setTimeout(r, 100));
    expect(await rooms.members('t1', 'slow')).toEqual([]);
    // A third connection of the user gets in and sees itself alone.
    const third = await t.connect({ sub: 'other' });
    await third.join('slow');
    expect((await third.next('presence_state')).members.map((m: { userId: string }) => m.userId)).toEqual(['other']);
  });
});
