import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore } from '../src/backends/redis/redis-session-store.js';
import type { SessionRecord } from '../src/domain/ports/session-store.port.js';
import { RedisServer } from './support/redis-harness.js';

/**
 * The credential update of a session on Redis (issue 12 §1): after a successful reauth the
 * stored record gets the new JWT's claims and credential deadline, and nothing else of it
 * changes: not its TTL (an away session keeps expiring on time), not what another writer
 * (a suspend, a resume on another instance) stored in between: the write is a compare-and-set
 * that is redone on the newer record.
 */
describe('RedisSessionStore.updateCredentials on a real redis-server', () => {
  let server: RedisServer;
  let redis: Redis;
  let store: RedisSessionStore;
  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    store = new RedisSessionStore(redis, 'cm', 'instance-1', 60_000, 500, 1_048_576);
  }, 60_000);
  afterAll(async () => {
    await store.close();
    redis.disconnect();
    await server.destroy();
  });

  const record = (sessionId: string, extra: Partial<SessionRecord> = {}): SessionRecord => ({
    sessionId,
    userId: 'alice',
    tenantId: 't1',
    name: 'Alice',
    canvases: ['c1'],
    expiresAt: 1_000,
    credentialDeadline: 31_000,
    connectionId: 'conn-1',
    rooms: ['c1'],
    awayUntil: 0,
    ...extra,
  });
  const stored = async (sessionId: string) => JSON.parse((await redis.get(`cm:session:{${sessionId}}`))!) as SessionRecord;
  const fresh = { expiresAt: 9_000_000, credentialDeadline: 9_030_000, name: 'Alice B.' };

  it('a connected session: the credentials change (a claim absent from the new JWT is dropped), the rest and the missing TTL stay', async () => {
    await store.activate(record('s1'), 'hash-1');
    await store.updateCredentials('s1', fresh);
    const after = await stored('s1');
    // The rooms live in a set of their own (cm:session:{sid}:rooms), not in the record's JSON.
    const { rooms: _rooms, ...rest } = record('s1');
    expect(after).toEqual({ ...rest, ...fresh, canvases: undefined, tokenHash: 'hash-1', instanceId: 'instance-1' });
    expect(await redis.smembers('cm:session:{s1}:rooms')).toEqual(['c1']);
    expect(after).not.toHaveProperty('canvases');
    expect(await redis.pttl('cm:session:{s1}')).toBe(-1);
  });

  it('an away session: updated, and its TTL is kept', async () => {
    await store.activate(record('s2'), 'hash-2');
    await store.suspend(record('s2'), [], Date.now() + 30_000);
    const ttlBefore = await redis.pttl('cm:session:{s2}');
    await store.updateCredentials('s2', fresh);
    expect(await stored('s2')).toMatchObject({ ...fresh, awayUntil: expect.any(Number) });
    const ttlAfter = await redis.pttl('cm:session:{s2}');
    expect(ttlAfter).toBeGreaterThan(0);
    expect(ttlAfter).toBeLessThanOrEqual(ttlBefore);
    expect(ttlBefore - ttlAfter).toBeLessThan(5_000);
  });

  it('a record rewritten between the read and the write: the update is redone on the newer record, which keeps what its writer stored', async () => {
    await store.activate(record('s3'), 'hash-3');
    // Another writer (as a suspend or a resume elsewhere would) rewrites the record right after
    // the store read it, once.
    const original = redis.get.bind(redis);
    let raced = false;
    redis.get = async (key: string) => {
      const value = await original(key);
      if (!raced && key === 'cm:session:{s3}') {
        raced = true;
        await redis.set(key, JSON.stringify({ ...record('s3'), rooms: ['c1', 'c9'], connectionId: 'conn-2' }));
      }
      return value;
    };
    try {
      await store.updateCredentials('s3', fresh);
    } finally {
      redis.get = original;
    }
    expect(raced).toBe(true);
    expect(await stored('s3')).toMatchObject({ ...fresh, rooms: ['c1', 'c9'], connectionId: 'conn-2' });
  });

  it('an unknown session is left alone (no record created)', async () => {
    await store.updateCredentials('nobody', fresh);
    expect(await redis.exists('cm:session:{nobody}')).toBe(0);
  });
});
