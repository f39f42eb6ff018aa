import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRoomBus } from '../src/backends/redis/redis-room-bus.js';
import { RedisRoomLog } from '../src/backends/redis/redis-room-log.js';
import { RedisSessionStore } from '../src/backends/redis/redis-session-store.js';
import type { SessionRecord } from '../src/domain/ports/session-store.port.js';
import { roomKey } from '../src/domain/rooms/room-key.js';
import { RedisServer } from './support/redis-harness.js';

/**
 * Fan-out never reaches the sender, in a replay either (issue 16, "Echoes"), on a real
 * redis-server. The sender's session can be away when its own message is published: it sent
 * the message and its connection closed before the publishing script ran (a drain, a dropped
 * TCP connection). Its replay buffer must not get the message, or the resumed client gets its
 * own stroke back. Both paths are checked: the one script per message (RedisRoomBus) and the
 * append alone (RedisSessionStore), and the sender travels to the other instances with the frame.
 * The room log's script (RedisRoomLog, issue 16) is the one script per message: it appends to
 * the log, publishes the frame with its position, and feeds the away buffers.
 */
describe('the sender of a room message on Redis', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  let store: RedisSessionStore;
  let log: RedisRoomLog;
  let other: RedisRoomBus;
  const key = roomKey('t1', 'c1');
  const bounds = { maxMessages: 500, maxBytes: 1_048_576, ttlMs: 60_000 };
  const connect = (): Redis => {
    const client = new Redis(server.url);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await RedisServer.start();
    const command = connect();
    store = new RedisSessionStore(command, 'cm', 'instance-1', 60_000, bounds.maxMessages, bounds.maxBytes);
    log = new RedisRoomLog({
      redis: command,
      keyPrefix: 'cm',
      instanceId: 'instance-1',
      maxMessages: bounds.maxMessages,
      maxBytes: bounds.maxBytes,
      awayTtlMs: bounds.ttlMs,
      logTtlMs: 86_400_000,
      seqTtlMs: 120_000,
    });
    other = new RedisRoomBus({ command: connect(), subscriber: connect(), cluster: false }, 'cm', 'instance-2');
  }, 60_000);
  afterAll(async () => {
    await store.close();
    for (const client of clients) client.disconnect();
    await server.destroy();
  });

  const record = (sessionId: string, userId: string): SessionRecord => ({
    sessionId,
    userId,
    tenantId: 't1',
    expiresAt: Date.now() + 3_600_000,
    credentialDeadline: Date.now() + 3_630_000,
    connectionId: `conn-${sessionId}`,
    rooms: ['c1'],
    awayUntil: 0,
  });
  const away = async (sessionId: string, userId: string) => {
    await store.activate(record(sessionId, userId), `hash-${sessionId}`);
    await store.suspend(record(sessionId, userId), [key], Date.now() + 60_000);
  };
  const ids = async (sessionId: string) => (await store.takeMissed(sessionId, [key])).messages.map((m) => m.id);

  it("the publish script and the append alone skip the sender's away session, and keep the message for every other", async () => {
    await away('s-sender', 'ann');
    await away('s-other', 'bob');
    await log.append({ roomKey: key, sender: 's-sender', seq: undefined, frameTail: '"data":1}' });
    const { epoch } = await log.head(key);
    store.append(key, 'instance-1:2', '{"type":"message","data":2}', 's-sender');
    store.append(key, 'instance-1:3', '{"type":"message","data":3}');
    // Commands on one connection run in order: once this reply is back, all three scripts ran.
    await clients[0].ping();

    expect(await ids('s-sender')).toEqual(['instance-1:3']);
    expect(await ids('s-other')).toEqual([`${epoch}.1`, 'instance-1:2', 'instance-1:3']);
    // Nor does the log replay a session its own message.
    expect((await log.readAfter(key, `${epoch}.0`, 's-sender')).messages).toEqual([]);
    expect((await log.readAfter(key, `${epoch}.0`, 's-other')).messages.map((m) => m.frame)).toEqual([`{"type":"message","pos":"${epoch}.1","data":1}`]);
  });

  it('the other instances get the sender with the frame, so none of its connections there gets it', async () => {
    const received: Array<{ frame: string; except: string | undefined; messageId: string | undefined }> = [];
    other.onRemoteFrame((roomKey, frame, except, messageId) => {
      if (roomKey === key) received.push({ frame, except, messageId });
    });
    // Resolves once the subscription is confirmed (what a join's position relies on).
    await other.subscribe(key);

    await log.append({ roomKey: key, sender: 's-sender', seq: undefined, frameTail: '"data":4}' });
    const { epoch, n } = await log.head(key);
    while (received.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(received).toEqual([{ frame: `{"type":"message","pos":"${epoch}.${n}","data":4}`, except: 's-sender', messageId: `${epoch}.${n}` }]);
  });
});
