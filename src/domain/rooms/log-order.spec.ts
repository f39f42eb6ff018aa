import { describe, expect, it } from 'vitest';
import type { LoggedMessage } from '../ports/room-log.port.js';
import { LocalRoom } from './local-room.js';
import { LogOrder } from './log-order.js';

const E = '1700000000000000';
const frame = (n: number, epoch = E) => `{"type":"message","pos":"${epoch}.${n}","data":${n}}`;

/** A LogOrder over one room, a log read the test answers, and the deliveries it made. */
function setup(options: { delivered?: number; maxPending?: number } = {}) {
  const rooms = new Map<string, LocalRoom>();
  const room = new LocalRoom('t1|c1', 't1', 'c1', 'canvas:c1');
  if (options.delivered !== undefined) room.delivered = { epoch: E, n: options.delivered };
  rooms.set(room.key, room);
  const delivered: Array<{ pos: string; except: string | undefined }> = [];
  const reads: Array<{ after: string; answer: (messages: LoggedMessage[]) => void; fail: (err: Error) => void }> = [];
  const order = new LogOrder({
    room: (key) => rooms.get(key),
    readAfter: (_key, after) => new Promise((resolve, reject) => reads.push({ after, answer: (messages) => resolve({ messages }), fail: reject })),
    deliver: (_key, _frame, except, pos) => delivered.push({ pos, except }),
    maxPending: options.maxPending ?? 100,
  });
  const offer = (n: number, except: string | undefined = 's-ann', epoch = E) => order.offer(room.key, frame(n, epoch), except, `${epoch}.${n}`);
  const logged = (n: number, sender = 's-log'): LoggedMessage => ({ n, pos: `${E}.${n}`, frame: frame(n), sender });
  const ns = () => delivered.map((d) => Number(d.pos.slice(d.pos.indexOf('.') + 1)));
  const settle = () => new Promise((r) => setImmediate(r));
  return { order, room, rooms, delivered, reads, offer, logged, ns, settle };
}

describe('LogOrder (cluster mode: a room’s logged messages in log order)', () => {
  it('delivers the next position at once, and drops one at or below the last delivered', () => {
    const t = setup({ delivered: 4 });
    t.offer(5);
    t.offer(6);
    t.offer(6);
    t.offer(3);
    expect(t.ns()).toEqual([5, 6]);
    expect(t.order.stats.duplicatesDropped).toBe(2);
    expect(t.reads).toHaveLength(0);
  });

  it('reads a gap from the log: what came meanwhile waits, then everything goes out in order and none twice, with the log’s sender left out', async () => {
    const t = setup({ delivered: 4 });
    t.offer(7, 's-7');
    t.offer(8, 's-8');
    t.offer(5, 's-5');
    expect(t.ns()).toEqual([]);
    expect(t.reads.map((r) => r.after)).toEqual([`${E}.4`]);
    t.reads[0]!.answer([t.logged(5, 's-5'), t.logged(6, ''), t.logged(7, 's-7')]);
    await t.settle();
    expect(t.ns()).toEqual([5, 6, 7, 8]);
    // The log's sender is the except of what it filled ('' is nobody); the waiting message keeps its own.
    expect(t.delivered.map((d) => d.except)).toEqual(['s-5', undefined, 's-7', 's-8']);
    expect(t.order.stats).toMatchObject({ gapsFilled: 1, gapMessages: 3, gapsGivenUp: 0 });
    t.offer(6);
    t.offer(9);
    expect(t.ns()).toEqual([5, 6, 7, 8, 9]);
  });

  it('leaves a gap the log no longer has below the lowest waiting message, without reading it again', async () => {
    const t = setup({ delivered: 4 });
    t.offer(7);
    t.offer(9);
    t.reads[0]!.answer([]);
    await t.settle();
    // 5 and 6 are gone; 8 (between the waiting ones) is read once more.
    expect(t.ns()).toEqual([7]);
    expect(t.reads.map((r) => r.after)).toEqual([`${E}.4`, `${E}.7`]);
    t.reads[1]!.answer([t.logged(8), t.logged(9)]);
    await t.settle();
    expect(t.ns()).toEqual([7, 8, 9]);
    expect(t.order.stats.gapsGivenUp).toBe(1);
  });

  it('when the read fails, what waited goes out in order and the gap stays', async () => {
    const t = setup({ delivered: 4 });
    t.offer(8);
    t.offer(6);
    t.offer(7);
    t.reads[0]!.fail(new Error('Redis down'));
    await t.settle();
    expect(t.ns()).toEqual([6, 7, 8]);
    expect(t.order.stats.gapsGivenUp).toBe(1);
    expect(t.room.gapFill).toBeNull();
  });

  it('more than maxPending waiting: they go out at once, in order, and the late read changes nothing', async () => {
    const t = setup({ delivered: 0, maxPending: 3 });
    for (const n of [3, 5, 4, 6]) t.offer(n);
    expect(t.ns()).toEqual([3, 4, 5, 6]);
    t.reads[0]!.answer([t.logged(1), t.logged(2), t.logged(3)]);
    await t.settle();
    expect(t.ns()).toEqual([3, 4, 5, 6]);
    t.offer(7);
    expect(t.ns()).toEqual([3, 4, 5, 6, 7]);
  });

  it('a room left and joined again while its gap was read ignores the read', async () => {
    const t = setup({ delivered: 1 });
    t.offer(3);
    const again = new LocalRoom(t.room.key, 't1', 'c1', 'canvas:c1');
    again.delivered = { epoch: E, n: 10 };
    t.rooms.set(t.room.key, again);
    t.reads[0]!.answer([t.logged(2), t.logged(3)]);
    await t.settle();
    expect(t.ns()).toEqual([]);
    expect(again.delivered).toEqual({ epoch: E, n: 10 });
  });

  it('another epoch is delivered as it comes; a newer one becomes the room’s, and ends a read under way', async () => {
    const t = setup({ delivered: 4 });
    const newer = '1800000000000000';
    const older = '1600000000000000';
    t.offer(9, 's-ann', older);
    expect(t.room.delivered).toEqual({ epoch: E, n: 4 });
    t.offer(7);
    t.offer(1, 's-ann', newer);
    // The waiting 7 went out first (the log it was read from is gone), then the new epoch's first.
    expect(t.delivered.map((d) => d.pos)).toEqual([`${older}.9`, `${E}.7`, `${newer}.1`]);
    expect(t.room.delivered).toEqual({ epoch: newer, n: 1 });
    t.offer(2, 's-ann', newer);
    expect(t.delivered.at(-1)?.pos).toBe(`${newer}.2`);
  });

  it('before the room’s first head read, messages go out as they come and the first sets the position', () => {
    const t = setup();
    t.offer(12);
    t.offer(13);
    expect(t.ns()).toEqual([12, 13]);
    expect(t.room.delivered).toEqual({ epoch: E, n: 13 });
  });
});
