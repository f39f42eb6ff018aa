import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionManagerOptions } from '../src/kernel/connection-manager.options.js';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { roomKey } from '../src/domain/rooms/room-key.js';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { WriteBatch } from '../src/domain/ports/write-batch.port.js';
import { TestApp } from './support/test-app.js';

/**
 * Write batching on the broadcast path (issues 5 and 15): a room's first message of a turn goes
 * to each recipient's kernel socket at once (presence and host broadcasts are held from their
 * first frame), and all the room's messages after it in the same turn as one more write, in
 * order (so a trickle of one message per turn is never held); a room busy in the turn before is
 * held from its first message (one write per recipient per turn). Measured on
 * the server's own TCP socket of a recipient: how many times Node's stream hands data to the
 * handle (`_write` for one chunk, `_writev` for several) while messages are published in one
 * turn. Unbatched, that is one call per frame.
 */
describe('broadcast write batching', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /** alice and bob in c1; counts the hand-offs to bob's server-side TCP socket. */
  async function room(options: Omit<ConnectionManagerOptions, 'jwt'> = {}) {
    const app = (t = await TestApp.create({ options }));
    const sender = await app.connect({ sub: 'alice' });
    const receiver = await app.connect({ sub: 'bob' });
    await sender.join('c1');
    await receiver.join('c1');
    await receiver.next('presence_state');
    await receiver.settle();
    const connection = app.get(ConnectionService).get(receiver.ack.connectionId)!;
    const tcp = (connection.socket as unknown as { _socket: Record<string, (...a: unknown[]) => unknown> })._socket;
    const counter = { handOffs: 0 };
    for (const method of ['_write', '_writev'] as const) {
      const original = tcp[method];
      tcp[method] = function (this: unknown, ...args: unknown[]) {
        counter.handOffs++;
        return original.apply(this, args);
      };
    }
    const rooms = app.get(RoomService);
    const publish = (data: unknown) =>
      rooms.publish({
        roomKey: roomKey('t1', 'c1'),
        // The frame after its opening `{"type":"message","pos":"…",` (the room log writes the position in).
        frameTail: JSON.stringify({ roomId: 'canvas:c1', canvasId: 'c1', from: { userId: 'alice', connectionId: sender.ack.connectionId }, data }).slice(1),
        senderConnectionId: sender.ack.connectionId,
      });
    return { sender, receiver, counter, publish };
  }

  it('50 room messages published in one turn reach a recipient as two writes (the first at once, the rest merged), in order and complete', async () => {
    const { sender, receiver, counter, publish } = await room();
    for (let i = 0; i < 50; i++) publish({ i });
    // The first frame went at once; the 49 after it are held until the end of this turn.
    expect(counter.handOffs).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(counter.handOffs).toBe(2);

    const got: number[] = [];
    for (let i = 0; i < 50; i++) got.push(((await receiver.next('message')).data as { i: number }).i);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // The sender (excepted) got none of them.
    expect((await sender.settle()).filter((f) => f.type === 'message')).toEqual([]);
  });

  it('one message in a turn is written at once: nothing is held, nothing waits for the end of the turn', async () => {
    const { receiver, counter, publish } = await room();
    publish({ i: 0 });
    expect(counter.handOffs).toBe(1);
    expect(t!.get<{ size: number }>(WriteBatch).size).toBe(0);
    expect(((await receiver.next('message')).data as { i: number }).i).toBe(0);
  });

  it('a room busy in one turn is held from its first message in the next; after a one-message turn it is written at once again', async () => {
    const { receiver, counter, publish } = await room();
    const endOfTurn = () => new Promise((r) => setImmediate(r));
    // Turn 1: two messages, the first at once, the second held.
    publish({ i: 0 });
    publish({ i: 1 });
    expect(counter.handOffs).toBe(1);
    await endOfTurn();
    expect(counter.handOffs).toBe(2);
    // Turn 2: the room was busy, so even its only message waits for the end of the turn.
    publish({ i: 2 });
    expect(counter.handOffs).toBe(2);
    await endOfTurn();
    expect(counter.handOffs).toBe(3);
    // Turn 3: the turn before had one message: written at once.
    publish({ i: 3 });
    expect(counter.handOffs).toBe(4);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push(((await receiver.next('message')).data as { i: number }).i);
    expect(got).toEqual([0, 1, 2, 3]);
  });

  it('presence and host broadcasts (frames that come in waves with joins) are held from the first frame: one write at the end of the turn', async () => {
    const { receiver, counter } = await room();
    const rooms = t!.get(RoomService);
    // What CanvasPresenceService sends for a wave of joins, through the same path.
    for (let i = 0; i < 3; i++)
      rooms.broadcast('t1', 'c1', { type: 'presence_join', roomId: 'canvas:c1', canvasId: 'c1', member: { userId: `u${i}`, connections: 1 } });
    expect(counter.handOffs).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(counter.handOffs).toBe(1);
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push(((await receiver.next('presence_join')).member as { userId: string }).userId);
    expect(got).toEqual(['u0', 'u1', 'u2']);
  });

  it('a burst bigger than the slow-consumer bound in one turn is written out in parts, not taken for a slow consumer', async () => {
    // 64 KiB bound → held bytes are written out at 16 KiB; the burst is 100 × ~2 KB ≈ 200 KB.
    const { receiver, counter, publish } = await room({ maxBufferedBytes: 64 * 1024 });
    const stroke = 'x'.repeat(2000);
    for (let i = 0; i < 100; i++) publish({ i, stroke });
    await new Promise((r) => setImmediate(r));
    expect(counter.handOffs).toBeGreaterThan(1);
    expect(counter.handOffs).toBeLessThan(30);

    const got: number[] = [];
    for (let i = 0; i < 100; i++) got.push(((await receiver.next('message')).data as { i: number }).i);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(t!.eventsNamed('connection.closed')).toEqual([]);
  });
});
