import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRoomBus } from '../src/backends/redis/redis-room-bus.js';
import { RedisRoomLog } from '../src/backends/redis/redis-room-log.js';
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
 * subscribes to the room; when none does, the writer delivers it from the script's reply. Either
 * way each instance gets each message once, with its position, in log order; an instance that
 * joins the room later gets the next messages on its bus.
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
    const bus = new RedisRoomBus({ command, subscriber: connect(), cluster: false }, 'cm', id);
    const log = new RedisRoomLog({
      redis: command,
      bus,
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
    return { bus, log, got };
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

  beforeAll(async () => {
    server = await RedisServer.start();
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server.destroy();
  });

  it('alone in a room, the writer gets its messages from the script, in order and with their positions, and nothing is published', async () => {
    const a = instance('instance-a');
    await a.bus.subscribe(key);
    const before = await spublishCalls();
    await Promise.all([append(a.log, 1), append(a.log, 2), append(a.log, 3, 's-bob')]);
    const { epoch } = await a.log.head(key);

    expect(a.got).toEqual([
      { frame: `{"type":"message","pos":"${epoch}.1","data":1}`, except: 's-ann', pos: `${epoch}.1` },
      { frame: `{"type":"message","pos":"${epoch}.2","data":2}`, except: 's-ann', pos: `${epoch}.2` },
      { frame: `{"type":"message","pos":"${epoch}.3","data":3}`, except: 's-bob', pos: `${epoch}.3` },
    ]);
    expect(await spublishCalls()).toBe(before);

    // Another instance subscribes: from then on the script publishes, and each instance gets each message once.
    const b = instance('instance-b');
    await b.bus.subscribe(key);
    await append(a.log, 4);
    await append(b.log, 5, 's-carl');
    await until(() => a.got.length === 5 && b.got.length === 2, 'messages 4 and 5 on both instances');
    expect(a.got.slice(3).map((d) => d.pos)).toEqual([`${epoch}.4`, `${epoch}.5`]);
    expect(b.got.map((d) => [d.pos, d.except])).toEqual([
      [`${epoch}.4`, 's-ann'],
      [`${epoch}.5`, 's-carl'],
    ]);
    expect(await spublishCalls()).toBe(before + 2);

    // It leaves again: the writer is alone, and delivers from the script once more.
    b.bus.unsubscribe(key);
    await clients[clients.length - 1].ping();
    await append(a.log, 6);
    await until(() => a.got.length === 6, 'message 6');
    expect(a.got[5].pos).toBe(`${epoch}.6`);
    expect(await spublishCalls()).toBe(before + 2);
    expect(b.got).toHaveLength(2);
  });

  it('a writer without members of the room (not subscribed) delivers nothing itself; the instances with members get it on the bus', async () => {
    const writer = instance('instance-w');
    const reader = instance('instance-r');
    await reader.bus.subscribe(key);
    await append(writer.log, 7);
    await until(() => reader.got.some((d) => d.frame.endsWith('"data":7}')), 'message 7 on the reader');
    expect(writer.got).toEqual([]);
  });
});
