import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogOrderBuffer } from './log-order-buffer.js';

/** The order buffer of cluster mode: a room's logged messages leave in position order, whichever connection brought them first. */
describe('LogOrderBuffer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (options: ConstructorParameters<typeof LogOrderBuffer>[1] = {}) => {
    const out: string[] = [];
    const buffer = new LogOrderBuffer((room, _frame, except, pos) => out.push(`${room}@${pos}${except === undefined ? '' : `-${except}`}`), options);
    const offer = (room: string, n: number, epoch = '100', except?: string) => buffer.offer(room, { epoch, n, pos: `${epoch}.${n}`, frame: `f${n}`, except });
    return { buffer, out, offer };
  };

  it('delivers the first message of a room at once, whatever its position, then each next one at once', () => {
    const { out, offer, buffer } = make();
    offer('r', 7);
    offer('r', 8, '100', 'sender');
    offer('r', 9);
    expect(out).toEqual(['r@100.7', 'r@100.8-sender', 'r@100.9']);
    expect(buffer.waitingRooms()).toBe(0);
  });

  it('holds a message that comes ahead of a gap and delivers it, in order, once the gap fills', () => {
    const { out, offer, buffer } = make();
    offer('r', 1);
    offer('r', 4);
    offer('r', 3);
    expect(out).toEqual(['r@100.1']);
    expect(buffer.waitingRooms()).toBe(1);
    offer('r', 2);
    expect(out).toEqual(['r@100.1', 'r@100.2', 'r@100.3', 'r@100.4']);
    expect(buffer.waitingRooms()).toBe(0);
  });

  it('drops a position it delivered already (the writer can get its own message on both connections), held or not', () => {
    const { out, offer } = make();
    offer('r', 1);
    offer('r', 1);
    offer('r', 3);
    offer('r', 3);
    offer('r', 2);
    offer('r', 2);
    expect(out).toEqual(['r@100.1', 'r@100.2', 'r@100.3']);
  });

  it('orders each room on its own', () => {
    const { out, offer } = make();
    offer('a', 1);
    offer('b', 10);
    offer('a', 3);
    offer('b', 11);
    offer('a', 2);
    expect(out).toEqual(['a@100.1', 'b@100.10', 'b@100.11', 'a@100.2', 'a@100.3']);
  });

  it('gives a gap up after gapWaitMs: what waited is delivered in order and later positions follow it', () => {
    vi.useFakeTimers();
    const { out, offer, buffer } = make({ gapWaitMs: 500 });
    offer('r', 1);
    offer('r', 5);
    offer('r', 3);
    vi.advanceTimersByTime(499);
    expect(out).toEqual(['r@100.1']);
    vi.advanceTimersByTime(1);
    expect(out).toEqual(['r@100.1', 'r@100.3', 'r@100.5']);
    expect(buffer.waitingRooms()).toBe(0);
    offer('r', 2);
    offer('r', 6);
    expect(out).toEqual(['r@100.1', 'r@100.3', 'r@100.5', 'r@100.6']);
  });

  it('delivers what waits at once when more than maxWaiting wait', () => {
    const { out, offer, buffer } = make({ maxWaiting: 2 });
    offer('r', 1);
    offer('r', 3);
    offer('r', 4);
    expect(out).toEqual(['r@100.1']);
    offer('r', 5);
    expect(out).toEqual(['r@100.1', 'r@100.3', 'r@100.4', 'r@100.5']);
    expect(buffer.waitingRooms()).toBe(0);
  });

  it('starts over from a message of a newer epoch (the log was recreated) and lets one of an older epoch through', () => {
    const { out, offer } = make();
    offer('r', 5, '100');
    offer('r', 7, '100');
    offer('r', 1, '200');
    offer('r', 2, '200');
    offer('r', 9, '100');
    expect(out).toEqual(['r@100.5', 'r@100.7', 'r@200.1', 'r@200.2', 'r@100.9']);
  });

  it('forgets a room: what waited is not delivered, its timer is stopped, and the next message starts it over', () => {
    vi.useFakeTimers();
    const { out, offer, buffer } = make();
    offer('r', 1);
    offer('r', 3);
    buffer.forget('r');
    expect(vi.getTimerCount()).toBe(0);
    offer('r', 9);
    expect(out).toEqual(['r@100.1', 'r@100.9']);
  });
});
