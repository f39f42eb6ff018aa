import { Logger } from '@nestjs/common';
import type { MissedMessage, MissedMessages, SessionRecord, SessionStore } from '../../domain/ports/session-store.port.js';
import { APPEND_LUA, TAKE_LUA } from './session.lua.js';
import type { RedisClient } from './redis-connections.js';

/** The record as stored: the room keys it buffers for while away, so `remove` can drop those buffers. */
interface StoredSession extends SessionRecord {
  awayRoomKeys?: string[];
}

type Scripted = RedisClient & {
  cmAppend(k1: string, k2: string, ...args: (string | number)[]): Promise<number>;
  cmTake(k1: string, k2: string, ...args: string[]): Promise<[string[], number]>;
};

/**
 * Sessions on Redis, so a client resumes on any instance. Keys (prefix `cm`):
 * - `cm:session:{sessionId}` JSON record; no TTL while connected, `reconnectTokenTtlMs` once away;
 * - `cm:token:<sha256>` → sessionId (GETDEL makes a token single-use across instances);
 * - `cm:instance:<id>:sessions` the connected sessions of an instance (orphaned if it dies);
 * - per room `{roomKey}`: `:away` set, `:awaybytes` hash, `:missed:<sessionId>` list, `:trunc:<sessionId>`.
 * The byte and message bounds of a replay buffer apply per room of the session here.
 * Failure mode: methods reject while Redis is down (append swallows: it never blocks fan-out).
 */
export class RedisSessionStore implements SessionStore {
  private readonly logger = new Logger(RedisSessionStore.name);
  private readonly redis: Scripted;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private expiredListener: (record: SessionRecord) => void = () => undefined;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    private readonly instanceId: string,
    private readonly ttlMs: number,
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {
    redis.defineCommand('cmAppend', { numberOfKeys: 2, lua: APPEND_LUA });
    redis.defineCommand('cmTake', { numberOfKeys: 2, lua: TAKE_LUA });
    this.redis = redis as Scripted;
  }

  private sessionKey(id: string): string {
    return `${this.prefix}:session:{${id}}`;
  }
  private tokenKey(hash: string): string {
    return `${this.prefix}:token:${hash}`;
  }
  private instanceKey(instanceId = this.instanceId): string {
    return `${this.prefix}:instance:${instanceId}:sessions`;
  }
  private roomTag(roomKey: string): string {
    return `${this.prefix}:{${roomKey}}`;
  }

  async activate(record: SessionRecord, tokenHash: string): Promise<void> {
    this.clearTimer(record.sessionId);
    const stored: SessionRecord = { ...record, awayUntil: 0, tokenHash, instanceId: this.instanceId };
    await this.redis.set(this.sessionKey(record.sessionId), JSON.stringify(stored));
    await this.redis.set(this.tokenKey(tokenHash), record.sessionId);
    await this.redis.sadd(this.instanceKey(), record.sessionId);
  }

  async find(tokenHash: string): Promise<SessionRecord | undefined> {
    const sessionId = await this.redis.get(this.tokenKey(tokenHash));
    return sessionId === null ? undefined : this.read(sessionId);
  }

  async claim(tokenHash: string): Promise<SessionRecord | undefined> {
    const sessionId = await this.redis.getdel(this.tokenKey(tokenHash));
    return sessionId === null ? undefined : this.read(sessionId);
  }

  async suspend(record: SessionRecord, roomKeys: string[], awayUntil: number, initial: MissedMessage[] = []): Promise<void> {
    const ttl = Math.max(1, awayUntil - Date.now());
    // Buffering first: a message sent right after the close must find the session away.
    // Messages that reached the connection while it was closing start its lists (same slot, in order).
    await Promise.all(
      roomKeys.map(async (key) => {
        const tag = this.roomTag(key);
        const away = `${tag}:away`;
        const early = initial.filter((m) => m.roomKey === key);
        if (early.length > 0) {
          const now = `${Date.now()}000`;
          await this.redis.rpush(`${tag}:missed:${record.sessionId}`, ...early.map((m) => `${now}|${m.id}|${m.frame}`));
        }
        await this.redis.sadd(away, record.sessionId);
        await this.redis.pexpire(away, ttl);
      }),
    );
    const previous = await this.read(record.sessionId);
    const tokenHash = record.tokenHash ?? previous?.tokenHash;
    const stored: StoredSession = { ...record, awayUntil, tokenHash, awayRoomKeys: roomKeys };
    // The record outlives its token by a minute, so the expiry check below can still read it.
    await this.redis.set(this.sessionKey(record.sessionId), JSON.stringify(stored), 'PX', ttl + 60_000);
    if (tokenHash) await this.redis.pexpire(this.tokenKey(tokenHash), ttl);
    await this.redis.srem(this.instanceKey(), record.sessionId);
    this.clearTimer(record.sessionId);
    const timer = setTimeout(() => void this.expire(record.sessionId, awayUntil), ttl);
    timer.unref();
    this.timers.set(record.sessionId, timer);
  }

  append(roomKey: string, id: string, frame: string): void {
    const tag = this.roomTag(roomKey);
    this.redis
      .cmAppend(`${tag}:away`, `${tag}:awaybytes`, `${tag}:missed:`, `${tag}:trunc:`, id, frame, this.maxMessages, this.maxBytes, this.ttlMs)
      .catch(() => undefined);
  }

  async takeMissed(sessionId: string, roomKeys: string[]): Promise<MissedMessages> {
    this.clearTimer(sessionId);
    const parts = await Promise.all(
      roomKeys.map((key) => {
        const tag = this.roomTag(key);
        return this.redis.cmTake(`${tag}:away`, `${tag}:awaybytes`, `${tag}:missed:${sessionId}`, `${tag}:trunc:${sessionId}`, sessionId);
      }),
    );
    let truncated = false;
    const entries: Array<{ ts: string; message: MissedMessage }> = [];
    for (let i = 0; i < parts.length; i++) {
      const [items, tr] = parts[i]!;
      const key = roomKeys[i]!;
      if (Number(tr) === 1) truncated = true;
      for (const item of items) {
        const a = item.indexOf('|');
        const b = item.indexOf('|', a + 1);
        entries.push({ ts: item.slice(0, a), message: { roomKey: key, id: item.slice(a + 1, b), frame: item.slice(b + 1) } });
      }
    }
    // Server time in µs, fixed width per era: string order is time order. Stable within a room.
    entries.sort((x, y) => x.ts.length - y.ts.length || (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : 0));
    return { messages: entries.map((e) => e.message), truncated };
  }

  async updateRooms(sessionId: string, canvasIds: string[]): Promise<void> {
    const record = await this.read(sessionId);
    if (!record || record.awayUntil !== 0) return;
    await this.redis.set(this.sessionKey(sessionId), JSON.stringify({ ...record, rooms: canvasIds }));
  }

  async remove(sessionId: string): Promise<void> {
    this.clearTimer(sessionId);
    const record = await this.read(sessionId);
    await this.redis.del(this.sessionKey(sessionId));
    await this.redis.srem(this.instanceKey(), sessionId);
    if (!record) return;
    if (record.tokenHash) await this.redis.del(this.tokenKey(record.tokenHash));
    for (const key of record.awayRoomKeys ?? []) {
      const tag = this.roomTag(key);
      await this.redis.cmTake(`${tag}:away`, `${tag}:awaybytes`, `${tag}:missed:${sessionId}`, `${tag}:trunc:${sessionId}`, sessionId);
    }
  }

  /**
   * The sessions of a crashed instance become resumable for the TTL, with the rooms they were
   * in, but nothing was buffered for them (their resume says `missed: "truncated"`).
   */
  async orphan(instanceId: string): Promise<number> {
    const ids = await this.redis.smembers(this.instanceKey(instanceId));
    const awayUntil = Date.now() + this.ttlMs;
    for (const id of ids) {
      const record = await this.read(id);
      // Only sessions still held by the dead instance (one resumed elsewhere meanwhile is live).
      if (!record || record.awayUntil !== 0 || record.instanceId !== instanceId) continue;
      await this.redis.set(this.sessionKey(id), JSON.stringify({ ...record, awayUntil, lostBuffer: true }), 'PX', this.ttlMs);
      if (record.tokenHash) await this.redis.pexpire(this.tokenKey(record.tokenHash), this.ttlMs);
    }
    await this.redis.del(this.instanceKey(instanceId));
    return ids.length;
  }

  onExpired(listener: (record: SessionRecord) => void): void {
    this.expiredListener = listener;
  }

  async close(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private async read(sessionId: string): Promise<StoredSession | undefined> {
    const raw = await this.redis.get(this.sessionKey(sessionId));
    return raw === null ? undefined : (JSON.parse(raw) as StoredSession);
  }

  private clearTimer(sessionId: string): void {
    const t = this.timers.get(sessionId);
    if (t) clearTimeout(t);
    this.timers.delete(sessionId);
  }

  /** session.expired is published by the instance where the session went away, if still away. */
  private async expire(sessionId: string, awayUntil: number): Promise<void> {
    this.timers.delete(sessionId);
    try {
      const record = await this.read(sessionId);
      if (record && record.awayUntil !== awayUntil) return; // resumed meanwhile
      const known = record ?? undefined;
      if (known) await this.remove(sessionId);
      if (known) this.expiredListener(known);
    } catch (err) {
      this.logger.warn(`session expiry check failed: ${(err as Error).message}`);
    }
  }
}
