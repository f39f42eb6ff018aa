import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TurnWriteCoalescer } from '../src/backends/redis/turn-write-coalescer.js';
import { RedisServer } from './support/redis-harness.js';

/**
 * The room log's commands of one event-loop turn go to Redis in one write (issue 15, cluster
 * mode): TurnWriteCoalescer corks the command connection's socket at the first command of a
 * turn and uncorks it at setImmediate. Checked on a real redis-server by counting the socket's
 * system writes (net.Socket's `_writev` for a batch, `_write` for a single chunk): replies stay
 * correct and in order.
 */
describe('TurnWriteCoalescer on a real redis-server', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    await redis.ping();
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  /** Counts the socket's writes to the kernel while `work` runs and its replies come back. */
  async function writesDuring(work: () => Promise<unknown[]>): Promise<{ writes: number; replies: unknown[] }> {
    const stream = redis.stream as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const write = stream._write;
    const writev = stream._writev;
    let writes = 0;
    stream._write = function (this: unknown, ...a: unknown[]) {
      writes++;
      return write.apply(this, a);
    };
    stream._writev = function (this: unknown, ...a: unknown[]) {
      writes++;
      return writev.apply(this, a);
    };
    try {
      return { replies: await work(), writes };
    } finally {
      stream._write = write;
      stream._writev = writev;
    }
  }

  it('commands issued in one turn after hold() leave in one write, replies in order', async () => {
    const coalescer = new TurnWriteCoalescer(redis);
    const { writes, replies } = await writesDuring(() => {
      const sent: Promise<unknown>[] = [];
      for (let i = 0; i < 5; i++) {
        coalescer.hold();
        sent.push(redis.incr('coalesced'));
      }
      return Promise.all(sent);
    });
    expect(replies).toEqual([1, 2, 3, 4, 5]);
    expect(writes).toBe(1);
  });

  it('without hold() each command is its own write (what the coalescer saves)', async () => {
    const { writes, replies } = await writesDuring(() => Promise.all([redis.incr('plain'), redis.incr('plain'), redis.incr('plain')]));
    expect(replies).toEqual([1, 2, 3]);
    expect(writes).toBe(3);
  });

  it('the next turn starts a new batch: nothing stays corked', async () => {
    const coalescer = new TurnWriteCoalescer(redis);
    coalescer.hold();
    await redis.set('k', 'v');
    expect((redis.stream as unknown as { writableCorked: number }).writableCorked).toBe(0);
    coalescer.hold();
    expect(await redis.get('k')).toBe('v');
  });
});
