import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryRoomLog } from './in-memory-room-log.js';

/** The in-memory room log: positions, bounds (messages and bytes), seq dedup, sweeping. */
describe('InMemoryRoomLog', () => {
  const logs: InMemoryRoomLog[] = [];
  const make = (bounds: Partial<ConstructorParameters<typeof InMemoryRoomLog>[0]> = {}) => {
    const log = new InMemoryRoomLog({ maxMessages: 500, maxBytes: 1_048_576, idleTtlMs: 3_600_000, seqTtlMs: 600_000, ...bounds });
    logs.push(log);
    return log;
  };
  afterEach(() => {
    for (const log of logs.splice(0)) log.close();
  });
  const append = (log: InMemoryRoomLog, data: number, sender = 's1', seq?: number) => log.append({ roomKey: 'r', sender, seq, frameTail: `"data":${data}}` });

  it('numbers messages from 1 within an epoch and writes the position into the frame', () => {
    const log = make();
    const { epoch, n } = log.head('r');
    expect(epoch).toMatch(/^[a-z0-9]{8}$/);
    expect(n).toBe(0);
    expect(append(log, 1)).toEqual({ appended: true, pos: `${epoch}.1`, n: 1, frame: `{"type":"message","pos":"${epoch}.1","data":1}` });
    expect(log.head('r')).toEqual({ epoch, n: 1 });
    expect(make().head('r').epoch).not.toBe(epoch);
  });

  it('keeps at most maxMessages and maxBytes (oldest dropped, at least the newest kept); a position that fell out is truncated', async () => {
    const log = make({ maxMessages: 3 });
    const { epoch } = log.head('r');
    for (let i = 1; i <= 5; i++) append(log, i, 'a');
    expect(await log.readAfter('r', `${epoch}.0`, 'b')).toMatchObject({ truncated: true, messages: [{ n: 3 }, { n: 4 }, { n: 5 }] });
    expect(await log.readAfter('r', `${epoch}.2`, 'b')).toMatchObject({ truncated: false, messages: [{ n: 3 }, { n: 4 }, { n: 5 }] });
    expect(await log.readAfter('r', `${epoch}.5`, 'b')).toEqual({ truncated: false, messages: [] });

    const small = make({ maxBytes: 120 });
    const e2 = small.head('r').epoch;
    for (let i = 1; i <= 4; i++) append(small, i * 1_000_000_000, 'a'); // 55 bytes per frame: two fit in 120
    expect((await small.readAfter('r', `${e2}.0`, 'b')).messages.map((m) => m.n)).toEqual([3, 4]);
  });

  it('a position of another epoch, or beyond the head, is truncated; a reader never gets its own messages', async () => {
    const log = make();
    const { epoch } = log.head('r');
    append(log, 1, 'a');
    append(log, 2, 'b');
    expect(await log.readAfter('r', 'zzzz.0', 'c')).toEqual({ messages: [], truncated: true });
    expect(await log.readAfter('r', `${epoch}.9`, 'c')).toEqual({ messages: [], truncated: true });
    expect((await log.readAfter('r', `${epoch}.0`, 'a')).messages.map((m) => m.n)).toEqual([2]);
  });

  it('a seq not above the highest accepted from the session in the room is a resend, not appended; lastSeq is the max over rooms', async () => {
    const log = make();
    expect(append(log, 1, 's', 1)).toMatchObject({ appended: true });
    expect(append(log, 2, 's', 3)).toMatchObject({ appended: true });
    expect(append(log, 2, 's', 3)).toEqual({ appended: false, duplicate: true });
    expect(append(log, 2, 's', 2)).toEqual({ appended: false, duplicate: true });
    expect(append(log, 9, 'other', 1)).toMatchObject({ appended: true });
    log.append({ roomKey: 'r2', sender: 's', seq: 7, frameTail: '"data":0}' });
    expect(await log.lastSeq('s', ['r', 'r2', 'nowhere'])).toBe(7);
    expect(log.head('r').n).toBe(3);
  });

  it('sweeps idle logs (the next head is a new epoch) and forgets seqs older than seqTtlMs', async () => {
    const log = make({ idleTtlMs: 1000, seqTtlMs: 500 });
    const { epoch } = log.head('r');
    append(log, 1, 's', 4);
    log.sweep(Date.now() + 600);
    expect(await log.lastSeq('s', ['r'])).toBe(0);
    expect(log.head('r').epoch).toBe(epoch);
    log.sweep(Date.now() + 2000);
    expect(log.head('r').epoch).not.toBe(epoch);
  });
});
