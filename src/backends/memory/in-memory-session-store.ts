import type { MissedMessage, MissedMessages, SessionCredentials, SessionRecord, SessionStore } from '../../domain/ports/session-store.port.js';

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
  private readonly records = new Map<string, SessionRecord>();
  /**
   * The rooms of each connected session that is in any, as a Set: a join or leave is O(1).
   * Made on the first room (an idle connection costs no Set). The record's own `rooms` is what
   * an away session restores.
   */
  private readonly connectedRooms = new Map<string, Set<string>>();
  /** token hash → sessionId, and back. */
  private readonly hashes = new Map<string, string>();
  private readonly hashOf = new Map<string, string>();
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
    this.records.set(record.sessionId, { ...record, rooms: [], awayUntil: 0 });
    if (record.rooms.length > 0) this.connectedRooms.set(record.sessionId, new Set(record.rooms));
    else this.connectedRooms.delete(record.sessionId);
    this.hashes.set(tokenHash, record.sessionId);
    this.hashOf.set(record.sessionId, tokenHash);
  }

  async find(tokenHash: string): Promise<SessionRecord | undefined> {
    const sessionId = this.hashes.get(tokenHash);
    return sessionId === undefined ? undefined : this.read(sessionId);
  }

  async claim(tokenHash: string): Promise<SessionRecord | undefined> {
    const sessionId = this.hashes.get(tokenHash);
    if (sessionId === undefined) return undefined;
    this.hashes.delete(tokenHash);
    this.hashOf.delete(sessionId);
    // The away timer keeps running until the resume takes the missed messages: a resume that
    // dies half-way leaves the session to expire as if it had never been tried.
    return this.read(sessionId);
  }

  /** The stored record, with the current room list of a connected session. */
  private read(sessionId: string): SessionRecord | undefined {
    const record = this.records.get(sessionId);
    if (!record || record.awayUntil !== 0) return record;
    return { ...record, rooms: [...(this.connectedRooms.get(sessionId) ?? [])] };
  }

  suspend(record: SessionRecord, roomKeys: string[], awayUntil: number, initial: MissedMessage[] = []): Promise<void> {
    this.stopBuffering(record.sessionId);
    const stored = { ...record, awayUntil };
    this.records.set(record.sessionId, stored);
    this.connectedRooms.delete(record.sessionId);
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

  append(roomKey: string, id: string, frame: string): void {
    const sessions = this.awayByRoom.get(roomKey);
    if (!sessions) return;
    const message = { roomKey, id, frame };
    for (const s of sessions) this.push(s, message);
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
    if (this.records.get(sessionId)?.awayUntil !== 0) return;
    let rooms = this.connectedRooms.get(sessionId);
    if (!rooms) this.connectedRooms.set(sessionId, (rooms = new Set()));
    rooms.add(canvasId);
  }

  async removeRoom(sessionId: string, canvasId: string): Promise<void> {
    const rooms = this.connectedRooms.get(sessionId);
    if (!rooms) return;
    rooms.delete(canvasId);
    if (rooms.size === 0) this.connectedRooms.delete(sessionId);
  }

  async updateCredentials(sessionId: string, credentials: SessionCredentials): Promise<void> {
    const record = this.records.get(sessionId);
    if (!record) return;
    // In place: an away session's buffer entry holds the same record object.
    record.expiresAt = credentials.expiresAt;
    record.credentialDeadline = credentials.credentialDeadline;
    if (credentials.name === undefined) delete record.name;
    else record.name = credentials.name;
    if (credentials.canvases === undefined) delete record.canvases;
    else record.canvases = credentials.canvases;
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
    return this.records.size;
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
    this.records.delete(sessionId);
    this.connectedRooms.delete(sessionId);
  }

  private forgetHash(sessionId: string): void {
    const hash = this.hashOf.get(sessionId);
    if (hash !== undefined) this.hashes.delete(hash);
    this.hashOf.delete(sessionId);
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
