import { Logger } from '@nestjs/common';
import type { MissedMessage, MissedMessages, SessionCredentials, SessionRecord, SessionStore } from '../../domain/ports/session-store.port.js';
import { ADD_ROOM_LUA, APPEND_LUA, SET_IF_UNCHANGED_LUA, TAKE_LUA, WRITE_SESSION_LUA } from './session.lua.js';
import type { RedisClient } from './redis-connections.js';

/**
 * The record as stored: without its rooms (they are a set of their own), plus the room keys it
 * buffers for while away, so `remove` can drop those buffers. (`rooms` is only found in records
 * written by earlier versions, which kept the list in the JSON.)
 */
interface StoredSession extends Omit<SessionRecord, 'rooms'> {
  rooms?: string[];
  awayRoomKeys?: string[];
}

type Scripted = RedisClient & {
  cmAppend(k1: string, k2: string, ...args: (string | number)[]): Promise<number>;
  cmTake(k1: string, k2: string, ...args: string[]): Promise<[string[], number]>;
  cmWriteSession(k1: string, k2: string, json: string, ttlMs: number, replaceRooms: '0' | '1', ...rooms: string[]): Promise<number>;
  cmAddRoom(k1: string, k2: string, canvasId: string): Promise<number>;
  cmSetIfUnchanged(key: string, expected: string, next: string): Promise<number>;
};

/** The record without its room list (stored as a set). */
function withoutRooms(record: SessionRecord): StoredSession {
  const { rooms: _rooms, ...rest } = record;
  return rest;
}

/** Tries of the compare-and-set of a credential update before it gives up (each lost try means another writer just wrote the record). */
const CREDENTIAL_UPDATE_TRIES = 3;

/**
 * Sessions on Redis, so a client resumes on any instance. Keys (prefix `cm`):
 * - `cm:session:{sessionId}` JSON record; no TTL while connected, `reconnectTokenTtlMs` once away;
 * - `cm:session:{sessionId}:rooms` set of the session's canvasIds (same slot, same TTL): a join or
 *   leave is one SADD/SREM, not a rewrite of the record with the whole list (issue 12);
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
    redis.defineCommand('cmWriteSession', { numberOfKeys: 2, lua: WRITE_SESSION_LUA });
    redis.defineCommand('cmAddRoom', { numberOfKeys: 2, lua: ADD_ROOM_LUA });
    redis.defineCommand('cmSetIfUnchanged', { numberOfKeys: 1, lua: SET_IF_UNCHANGED_LUA });
    this.redis = redis as Scripted;
  }

  private sessionKey(id: string): string {
    return `${this.prefix}:session:{${id}}`;
  }
  private roomsKey(id: string): string {
    return `${this.sessionKey(id)}:rooms`;
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
    const stored: StoredSession = { ...withoutRooms(record), awayUntil: 0, tokenHash, instanceId: this.instanceId };
    await this.write(record.sessionId, stored, { ttlMs: 0, rooms: record.rooms });
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
    const stored: StoredSession = { ...withoutRooms(record), awayUntil, tokenHash, awayRoomKeys: roomKeys };
    // The record outlives its token by a minute, so the expiry check below can still read it.
    await this.write(record.sessionId, stored, { ttlMs: ttl + 60_000, rooms: record.rooms });
    if (tokenHash) await this.redis.pexpire(this.tokenKey(tokenHash), ttl);
    await this.redis.srem(this.instanceKey(), record.sessionId);
    this.clearTimer(record.sessionId);
    const timer = setTimeout(() => void this.expire(record.sessionId, awayUntil), ttl);
    timer.unref();
    this.timers.set(record.sessionId, timer);
  }

  append(roomKey: string, id: string, frame: string, exceptSessionId?: string): void {
    const tag = this.roomTag(roomKey);
    this.redis
      .cmAppend(
        `${tag}:away`,
        `${tag}:awaybytes`,
        `${tag}:missed:`,
        `${tag}:trunc:`,
        id,
        frame,
        this.maxMessages,
        this.maxBytes,
        this.ttlMs,
        exceptSessionId ?? '',
      )
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

  async addRoom(sessionId: string, canvasId: string): Promise<void> {
    await this.redis.cmAddRoom(this.sessionKey(sessionId), this.roomsKey(sessionId), canvasId);
  }

  async removeRoom(sessionId: string, canvasId: string): Promise<void> {
    await this.redis.srem(this.roomsKey(sessionId), canvasId);
  }

  /**
   * Read, change the credential fields, compare-and-set (TTL kept): a record written by someone
   * else in between (a suspend, a resume elsewhere) makes the write miss, and the update is redone
   * on the new record, so nothing that writer stored is lost.
   */
  async updateCredentials(sessionId: string, credentials: SessionCredentials): Promise<void> {
    const key = this.sessionKey(sessionId);
    for (let i = 0; i < CREDENTIAL_UPDATE_TRIES; i++) {
      const raw = await this.redis.get(key);
      if (raw === null) return;
      const { name: _name, canvases: _canvases, ...rest } = JSON.parse(raw) as StoredSession;
      const next: StoredSession = { ...rest, ...credentials };
      if ((await this.redis.cmSetIfUnchanged(key, raw, JSON.stringify(next))) === 1) return;
    }
    throw new Error(`session ${sessionId} kept changing during a credential update`);
  }

  async remove(sessionId: string): Promise<void> {
    this.clearTimer(sessionId);
    const record = await this.read(sessionId);
    await this.redis.del(this.sessionKey(sessionId), this.roomsKey(sessionId));
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
      await this.write(id, { ...withoutRooms(record), awayUntil, lostBuffer: true }, { ttlMs: this.ttlMs });
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

  /**
   * Writes the record and its room set in one step: `rooms` replaces the set, leaving it out
   * keeps the members; both get `ttlMs` (0 = no TTL, a connected session).
   */
  private async write(sessionId: string, stored: StoredSession, opts: { ttlMs: number; rooms?: string[] }): Promise<void> {
    const replace = opts.rooms === undefined ? '0' : '1';
    await this.redis.cmWriteSession(this.sessionKey(sessionId), this.roomsKey(sessionId), JSON.stringify(stored), opts.ttlMs, replace, ...(opts.rooms ?? []));
  }

  /** The record with its rooms (one round trip, one consistent view). */
  private async read(sessionId: string): Promise<(StoredSession & { rooms: string[] }) | undefined> {
    const replies = await this.redis.multi().get(this.sessionKey(sessionId)).smembers(this.roomsKey(sessionId)).exec();
    if (!replies) throw new Error('session read aborted');
    const [[getErr, raw], [membersErr, members]] = replies as [[Error | null, string | null], [Error | null, string[]]];
    const failed = getErr ?? membersErr;
    if (failed) throw failed;
    if (raw === null) return undefined;
    const stored = JSON.parse(raw) as StoredSession;
    return { ...stored, rooms: stored.rooms ?? members };
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
      this.logger.warn(`session expiry check failed: ${(err as Error | undefined)?.message ?? String(err)}`);
    }
  }
}
