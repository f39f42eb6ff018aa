import { itemsOf, withOne, withoutOne, type OneOrSet } from '../../domain/values/one-or-set.js';
import type { MissedMessage, MissedMessages, SessionCredentials, SessionRecord, SessionStore } from '../../domain/ports/session-store.port.js';

/**
 * A session as stored: its record (what an away session restores: `rooms` then holds them,
 * and `tokenHash` the hash of its current token), plus the rooms of a connected session as one
 * item or a Set (a join or leave is O(1), and the usual one room costs no Set). One object per
 * session, every field in-object, its layout fixed at load ({@link primeStoredSessionLayout}).
 */
class StoredSession implements SessionRecord {
  sessionId: string;
  userId: string;
  tenantId: string;
  name: string | undefined;
  canvases: string[] | undefined;
  expiresAt: number;
  credentialDeadline: number;
  connectionId: string;
  rooms: string[];
  awayUntil: number;
  tokenHash: string | undefined;
  lostBuffer: boolean | undefined;
  instanceId: string | undefined;
  liveRooms: OneOrSet<string> | undefined;

  constructor(record: SessionRecord, fields: { rooms: string[]; awayUntil: number; tokenHash: string | undefined; liveRooms: OneOrSet<string> | undefined }) {
    this.sessionId = record.sessionId;
    this.userId = record.userId;
    this.tenantId = record.tenantId;
    this.name = record.name;
    this.canvases = record.canvases;
    this.expiresAt = record.expiresAt;
    this.credentialDeadline = record.credentialDeadline;
    this.connectionId = record.connectionId;
    this.rooms = fields.rooms;
    this.awayUntil = fields.awayUntil;
    this.tokenHash = fields.tokenHash;
    this.lostBuffer = record.lostBuffer;
    this.instanceId = record.instanceId;
    this.liveRooms = fields.liveRooms;
  }
}

/**
 * Made once at load with every kind of value each field holds (times that are not small
 * integers and small integers, a Set of rooms and one room, absent values): V8 then gives
 * StoredSession's fields their general representation up front. Left
 * to the first sessions instead (a time of 0, then the first suspend's real one), the fields
 * widen at run time, the old object layout is deprecated, and every session made afterwards was
 * migrated field by field at runtime: ~4 % of the connect path's CPU in the profile (issue 15).
 */
function primeStoredSessionLayout(): void {
  const record: SessionRecord = {
    sessionId: 's',
    userId: 'u',
    tenantId: 't',
    name: 'n',
    canvases: ['c'],
    expiresAt: 0.5,
    credentialDeadline: 0.5,
    connectionId: 'c',
    rooms: ['r'],
    awayUntil: 0.5,
    lostBuffer: false,
    instanceId: 'i',
  };
  new StoredSession(record, { rooms: ['r'], awayUntil: 0.5, tokenHash: 'h', liveRooms: new Set(['a', 'b']) });
  // …then small integers and absent values in the same fields: every field ends up general.
  const small: SessionRecord = {
    ...record,
    name: undefined,
    canvases: undefined,
    expiresAt: 0,
    credentialDeadline: 0,
    awayUntil: 0,
    lostBuffer: undefined,
    instanceId: undefined,
  };
  new StoredSession(small, { rooms: [], awayUntil: 0, tokenHash: undefined, liveRooms: 'a' });
}
primeStoredSessionLayout();

/**
 * `rooms` of a connected session, shared: its rooms are `liveRooms`, and `rooms` is read only once
 * the session is away (then it is the list given to suspend). Frozen: a write would throw instead
 * of changing every session. One empty array less per connection (32 B).
 */
const NO_ROOMS = Object.freeze([]) as unknown as string[];

/** The record as find/claim give it out: without the store's own fields, optional ones only when set. */
function recordOf(stored: StoredSession, rooms: string[]): SessionRecord {
  const { liveRooms: _liveRooms, tokenHash: _tokenHash, lostBuffer, instanceId, ...record } = stored;
  const out: SessionRecord = { ...record, rooms };
  if (lostBuffer !== undefined) out.lostBuffer = lostBuffer;
  if (instanceId !== undefined) out.instanceId = instanceId;
  return out;
}

interface AwaySession {
  record: SessionRecord;
  roomKeys: string[];
  messages: MissedMessage[];
  bytes: number;
  truncated: boolean;
  timer: NodeJS.Timeout;
}

/**
 * The embedded default. Sessions die with the process: a resume after a restart gets 401 and
 * the client logs in again (cluster mode keeps them in Redis). Memory is bounded per away
 * session by `maxMessages` and `maxBytes`, and an away session is gone at `awayUntil`.
 */
export class InMemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, StoredSession>();
  /** token hash → sessionId (the way back is the stored session's `tokenHash`). */
  private readonly hashes = new Map<string, string>();
  private readonly away = new Map<string, AwaySession>();
  /** roomKey → away sessions that were in it. */
  private readonly awayByRoom = new Map<string, Set<AwaySession>>();
  private expiredListener: (record: SessionRecord) => void = () => undefined;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  async activate(record: SessionRecord, tokenHash: string): Promise<void> {
    // Buffering (if the session was away) goes on until takeMissed: a resume activates first.
    this.forgetHash(record.sessionId);
    let liveRooms: OneOrSet<string> | undefined;
    for (const canvasId of record.rooms) liveRooms = withOne(liveRooms, canvasId);
    this.sessions.set(record.sessionId, new StoredSession(record, { rooms: NO_ROOMS, awayUntil: 0, tokenHash, liveRooms }));
    this.hashes.set(tokenHash, record.sessionId);
  }

  async find(tokenHash: string): Promise<SessionRecord | undefined> {
    const sessionId = this.hashes.get(tokenHash);
    return sessionId === undefined ? undefined : this.read(sessionId);
  }

  async claim(tokenHash: string): Promise<SessionRecord | undefined> {
    const sessionId = this.hashes.get(tokenHash);
    if (sessionId === undefined) return undefined;
    this.hashes.delete(tokenHash);
    const stored = this.sessions.get(sessionId);
    if (stored) stored.tokenHash = undefined;
    // The away timer keeps running until the resume takes the missed messages: a resume that
    // dies half-way leaves the session to expire as if it had never been tried.
    return this.read(sessionId);
  }

  /** The stored record, with the current room list of a connected session. */
  private read(sessionId: string): SessionRecord | undefined {
    const stored = this.sessions.get(sessionId);
    if (!stored) return undefined;
    return recordOf(stored, stored.awayUntil === 0 ? itemsOf(stored.liveRooms) : stored.rooms);
  }

  suspend(record: SessionRecord, roomKeys: string[], awayUntil: number, initial: MissedMessage[] = []): Promise<void> {
    this.stopBuffering(record.sessionId);
    const previous = this.sessions.get(record.sessionId);
    const stored = new StoredSession(record, { rooms: record.rooms, awayUntil, tokenHash: previous?.tokenHash, liveRooms: undefined });
    this.sessions.set(record.sessionId, stored);
    const timer = setTimeout(() => this.expire(record.sessionId), Math.max(0, awayUntil - Date.now()));
    timer.unref();
    const entry: AwaySession = { record: stored, roomKeys, messages: [], bytes: 0, truncated: false, timer };
    for (const m of initial) this.push(entry, m);
    this.away.set(record.sessionId, entry);
    for (const key of roomKeys) {
      let set = this.awayByRoom.get(key);
      if (!set) this.awayByRoom.set(key, (set = new Set()));
      set.add(entry);
    }
    return Promise.resolve();
  }

  append(roomKey: string, id: string, frame: string, exceptSessionId?: string): void {
    const sessions = this.awayByRoom.get(roomKey);
    if (!sessions) return;
    const message = { roomKey, id, frame };
    for (const s of sessions) if (s.record.sessionId !== exceptSessionId) this.push(s, message);
  }

  private push(s: AwaySession, message: MissedMessage): void {
    s.messages.push(message);
    s.bytes += Buffer.byteLength(message.frame);
    // Newest kept: drop the oldest until both bounds hold.
    while (s.messages.length > this.maxMessages || s.bytes > this.maxBytes) {
      s.bytes -= Buffer.byteLength(s.messages.shift()!.frame);
      s.truncated = true;
    }
  }

  async takeMissed(sessionId: string, roomKeys: string[]): Promise<MissedMessages> {
    const entry = this.away.get(sessionId);
    if (!entry) return { messages: [], truncated: false };
    this.stopBuffering(sessionId);
    const keys = new Set(roomKeys);
    return { messages: entry.messages.filter((m) => keys.has(m.roomKey)), truncated: entry.truncated };
  }

  async addRoom(sessionId: string, canvasId: string): Promise<void> {
    const stored = this.sessions.get(sessionId);
    if (stored?.awayUntil !== 0) return;
    stored.liveRooms = withOne(stored.liveRooms, canvasId);
  }

  async removeRoom(sessionId: string, canvasId: string): Promise<void> {
    const stored = this.sessions.get(sessionId);
    if (stored) stored.liveRooms = withoutOne(stored.liveRooms, canvasId);
  }

  async updateCredentials(sessionId: string, credentials: SessionCredentials): Promise<void> {
    const record = this.sessions.get(sessionId);
    if (!record) return;
    // In place: an away session's buffer entry holds the same record object.
    record.expiresAt = credentials.expiresAt;
    record.credentialDeadline = credentials.credentialDeadline;
    // Assigned, never deleted: a claim absent from the new JWT is undefined (a delete would turn
    // the record into a slow dictionary-mode object).
    record.name = credentials.name;
    record.canvases = credentials.canvases;
  }

  async remove(sessionId: string): Promise<void> {
    this.forget(sessionId);
  }

  /** One process holds every session: no other instance can die under it. */
  async orphan(): Promise<number> {
    return 0;
  }

  onExpired(listener: (record: SessionRecord) => void): void {
    this.expiredListener = listener;
  }

  async close(): Promise<void> {
    for (const entry of this.away.values()) clearTimeout(entry.timer);
  }

  /** Sessions known (connected or away), for leak checks. */
  get size(): number {
    return this.sessions.size;
  }
  /** Away sessions, for leak checks. */
  get awayCount(): number {
    return this.away.size;
  }

  private expire(sessionId: string): void {
    const entry = this.away.get(sessionId);
    if (!entry) return;
    this.forget(sessionId);
    this.expiredListener(entry.record);
  }

  private forget(sessionId: string): void {
    this.stopBuffering(sessionId);
    this.forgetHash(sessionId);
    this.sessions.delete(sessionId);
  }

  private forgetHash(sessionId: string): void {
    const stored = this.sessions.get(sessionId);
    if (stored?.tokenHash !== undefined) this.hashes.delete(stored.tokenHash);
    if (stored) stored.tokenHash = undefined;
  }

  private stopBuffering(sessionId: string): void {
    const entry = this.away.get(sessionId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.away.delete(sessionId);
    for (const key of entry.roomKeys) {
      const set = this.awayByRoom.get(key);
      if (!set) continue;
      set.delete(entry);
      if (set.size === 0) this.awayByRoom.delete(key);
    }
  }
}
