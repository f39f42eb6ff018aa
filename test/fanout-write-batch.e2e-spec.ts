import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { roomKey } from '../src/domain/rooms/room-key.js';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';

/**
 * Write batching on the broadcast path (issue 5): all the frames one socket gets from
 * broadcasts within one event-loop turn go to the kernel as one write, in order. Measured on
 * the server's own TCP socket of a recipient: how many times Node's stream hands data to the
 * handle (`_write` for one chunk, `_writev` for several) while 50 messages are published in
 * one turn. Unbatched, that is 50 calls (one per frame); batched, one.
 */
describe('broadcast write batching', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('50 room messages published in one turn reach a recipient as one write, in order and complete', async () => {
    t = await TestApp.create();
    const sender = await t.connect({ sub: 'alice' });
    const receiver = await t.connect({ sub: 'bob' });
    await sender.join('c1');
    await receiver.join('c1');
    await receiver.next('presence_state');
    await receiver.drain(100);

    const connection = t.get(ConnectionService).get(receiver.ack.connectionId)!;
    const tcp = (connection.socket as unknown as { _socket: Record<string, (...a: unknown[]) => unknown> })._socket;
    let handOffs = 0;
    for (const method of ['_write', '_writev'] as const) {
      const original = tcp[method]!;
      tcp[method] = function (this: unknown, ...args: unknown[]) {
        handOffs++;
        return original.apply(this, args);
      };
    }

    const rooms = t.get(RoomService);
    const key = roomKey('t1', 'c1');
    for (let i = 0; i < 50; i++) {
      rooms.publish(key, JSON.stringify({ type: 'message', roomId: 'canvas:c1', canvasId: 'c1', from: { userId: 'alice', connectionId: sender.ack.connectionId }, data: { i } }), sender.ack.connectionId);
    }
    // Held until the end of this turn: nothing handed to the socket yet.
    expect(handOffs).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(handOffs).toBe(1);

    const got: number[] = [];
    for (let i = 0; i < 50; i++) got.push(((await receiver.next('message')).data as { i: number }).i);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // The sender (excepted) got none of them.
    expect((await sender.drain(100)).filter((f) => f.type === 'message')).toEqual([]);
  });
});
