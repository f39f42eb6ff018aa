import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRoomBus } from '../src/backends/redis/redis-room-bus.js';
import { RedisRoomLog } from '../src/backends/redis/redis-room-log.js';
import type { LogAppendResult } from '../src/domain/ports/room-log.port.js';
import { roomKey } from '../src/domain/rooms/room-key.js';
import { RedisServer } from './support/redis-harness.js';

interface Delivered {
  frame: string;
  except: string | undefined;
  pos: string | undefined;
}

/**
 * Who delivers a room message to its writer's instance (issue 15, the Redis row), on a real
 * redis-server: the log script publishes a message on the room's bus only when another instance
 * subscribes to the room; when none does, the append's result says `deliverHere`, with the
 * message's position and frame, and nothing is published. An instance that joins the room later
 * gets the next messages on its bus; once it leaves, the writer is alone again.
 */
describe("a room message on its writer's instance (Redis)", () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const key = roomKey('t1', 'own');
  const connect = (): Redis => {
    const client = new Redis(server.url);
    clients.push(client);
    return client;
  };
  const instance = (id: string) => {
    const command = connect();
    const subscriber = connect();
    const bus = new RedisRoomBus({ command, subscriber, cluster: false }, 'cm', id);
    const log = new RedisRoomLog({
      redis: command,
      keyPrefix: 'cm',
      instanceId: id,
      maxMessages: 500,
      maxBytes: 1_048_576,
      awayTtlMs: 60_000,
      logTtlMs: 86_400_000,
      seqTtlMs: 120_000,
    });
    const got: Delivered[] = [];
    bus.onRemoteFrame((room, frame, except, pos) => {
      if (room === key) got.push({ frame, except, pos });
    });
    return { bus, log, got, subscriber };
  };
  const spublishCalls = async (): Promise<number> => {
    const stats = await clients[0].info('commandstats');
    return Number(/cmdstat_spublish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  };
  const until = async (check: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const append = (log: RedisRoomLog, data: number, sender = 's-ann') => log.append({ roomKey: key, sender, seq: undefined, frameTail: `"data":${data}}` });
  const here = (result: LogAppendResult) => (result.appended && result.deliverHere === true ? { pos: result.pos, frame: result.frame } : undefined);

  beforeAll(async () => {
    server = await RedisServer.start();
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server.destroy();
  });

  it('alone in a room, the writer is told to deliver each message itself, with its position, and nothing is published', async () => {
    const a = instance('instance-a');
    await a.bus.subscribe(key);
    const before = await spublishCalls();
    const results = await Promise.all([append(a.log, 1), append(a.log, 2), append(a.log, 3, 's-bob')]);
    const { epoch } = await a.log.head(key);

    expect(results.map(here)).toEqual([
      { pos: `${epoch}.1`, frame: `{"type":"message","pos":"${epoch}.1","data":1}` },
      { pos: `${epoch}.2`, frame: `{"type":"message","pos":"${epoch}.2","data":2}` },
      { pos: `${epoch}.3`, frame: `{"type":"message","pos":"${epoch}.3","data":3}` },
    ]);
    expect(await spublishCalls()).toBe(before);
    expect(a.got).toEqual([]);

    // Another instance subscribes: from then on the script publishes, and each bus brings each message once.
    const b = instance('instance-b');
    await b.bus.subscribe(key);
    expect(here(await append(a.log, 4))).toBeUndefined();
    expect(here(await append(b.log, 5, 's-carl'))).toBeUndefined();
    await until(() => a.got.length === 2 && b.got.length === 2, 'messages 4 and 5 on both buses');
    expect(a.got.map((d) => [d.pos, d.except])).toEqual([
      [`${epoch}.4`, 's-ann'],
      [`${epoch}.5`, 's-carl'],
    ]);
    expect(b.got).toEqual(a.got);
    expect(await spublishCalls()).toBe(before + 2);

    // It leaves again (its unsubscribe is processed once a command after it on that connection answers): the writer is alone once more.
    b.bus.unsubscribe(key);
    await b.subscriber.ping();
    expect(here(await append(a.log, 6))).toEqual({ pos: `${epoch}.6`, frame: `{"type":"message","pos":"${epoch}.6","data":6}` });
    expect(await spublishCalls()).toBe(before + 2);
    expect(b.got).toHaveLength(2);
  });

  it('a writer without members of the room (not subscribed) publishes to the instances that have members, and is told to deliver it too', async () => {
    const writer = instance('instance-w');
    const reader = instance('instance-r');
    await reader.bus.subscribe(key);
    const result = await append(writer.log, 7);
    // deliverHere: the writer's own bus does not bring it (RoomDelivery drops it there: no local room).
    expect(here(result)?.frame).toMatch(/"data":7}$/);
    await until(() => reader.got.some((d) => d.frame.endsWith('"data":7}')), 'message 7 on the reader');
    expect(writer.got).toEqual([]);
  });
});
