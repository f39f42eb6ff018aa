/** What survives of a session between its connections. */
export interface SessionRecord {
  sessionId: string;
  userId: string;
  tenantId: string;
  name?: string;
  canvases?: string[];
  /** The session's JWT expiry, epoch ms; a resume without a new JWT keeps it. */
  expiresAt: number;
  /**
   * The session's credential deadline, epoch ms: `exp` + clock tolerance + reauth grace of the
   * last JWT it proved (see domain/connections/credential-deadline.ts). Set on every activate,
   * moved only by a successful reauth or a resume with a fresh JWT, never by a resume alone.
   */
  credentialDeadline: number;
  /** The connection that holds (or last held) the session. */
  connectionId: string;
  /**
   * canvasIds to restore: the rooms the session is in (kept current while it is connected, with
   * {@link SessionStore.addRoom} and {@link SessionStore.removeRoom}), or was in when it went away.
   */
  rooms: string[];
  /** Epoch ms until which an away session can be resumed; 0 while it is connected. */
  awayUntil: number;
  /** SHA-256 of the session's current reconnect token (so the store can expire or drop it). */
  tokenHash?: string;
  /** Set when the holder vanished without a close (crashed instance): nothing was buffered. */
  lostBuffer?: boolean;
  /** Cluster mode: the instance that holds the connected session. */
  instanceId?: string;
}

/** What the session's last JWT proved: its claims (as the record keeps them) and the deadline they give. */
export type SessionCredentials = Pick<SessionRecord, 'expiresAt' | 'credentialDeadline' | 'name' | 'canvases'>;

/** One buffered room message: its room, a cluster-unique id (to drop duplicates on resume) and the frame. */
export interface MissedMessage {
  roomKey: string;
  id: string;
  frame: string;
}

/** The messages an away session missed, oldest first; `truncated` when the bound dropped some. */
export interface MissedMessages {
  messages: MissedMessage[];
  truncated: boolean;
}

/**
 * Session storage: reconnect-token hashes, away sessions and their replay buffers.
 * The in-memory store serves one instance; a shared (Redis) store lets a session resume on
 * another instance. Only SHA-256 hashes of reconnect tokens are ever stored.
 *
 * Failure mode: a shared store rejects when its backend is unreachable; the upgrade of a
 * resume then gets 503 UNAVAILABLE with Retry-After, and fresh (JWT) upgrades still work.
 */
export interface SessionStore {
  /** Records a connected session under the hash of its current token (the previous hash stops working). */
  activate(record: SessionRecord, tokenHash: string): Promise<void>;
  /** Looks a token up without using it. */
  find(tokenHash: string): Promise<SessionRecord | undefined>;
  /** Uses a token up: atomically removes it and returns its session, or undefined if already used. */
  claim(tokenHash: string): Promise<SessionRecord | undefined>;
  /**
   * Marks a session away until `awayUntil`, remembering the room keys whose messages it must
   * keep (bounded by messages and bytes, oldest dropped first). `initial` holds messages that
   * reached the connection after its close began (they start the buffer). Takes effect
   * synchronously for the in-memory store, so no message sent after the close is missed.
   */
  suspend(record: SessionRecord, roomKeys: string[], awayUntil: number, initial?: MissedMessage[]): Promise<void>;
  /**
   * Appends one serialized message frame to every away session that was in `roomKey`, except the
   * session `exceptSessionId` (the sender's: its own message is never replayed to it). Never throws.
   */
  append(roomKey: string, id: string, frame: string, exceptSessionId?: string): void;
  /**
   * Removes and returns what a session missed in `roomKeys` (oldest first, across rooms), and
   * stops buffering for it.
   */
  takeMissed(sessionId: string, roomKeys: string[]): Promise<MissedMessages>;
  /**
   * Records that a connected session joined a room (what a resume restores if its instance
   * dies). O(1) whatever the number of rooms: a join must not rewrite the whole list (on Redis
   * that made a session of n rooms cost O(n²) bytes). No effect on an unknown session.
   */
  addRoom(sessionId: string, canvasId: string): Promise<void>;
  /** Records that a connected session left a room. O(1), like {@link addRoom}. */
  removeRoom(sessionId: string, canvasId: string): Promise<void>;
  /**
   * Replaces the credentials of a known session (after a successful reauth), whether connected or
   * away, without touching anything else of the record; an unknown session is ignored. One record
   * read and written, no per-room work. Rejects when a shared store is unreachable.
   */
  updateCredentials(sessionId: string, credentials: SessionCredentials): Promise<void>;
  /** Forgets a session and its token for good. */
  remove(sessionId: string): Promise<void>;
  /**
   * The connected sessions of a dead instance become away (resumable for the TTL) with the rooms
   * they were in, but nothing was buffered for them (`lostBuffer`). Returns how many there were.
   * A single-instance store has no other instance: it returns 0.
   */
  orphan(instanceId: string): Promise<number>;
  /** Registers the callback run when an away session's time runs out (once per session). */
  onExpired(listener: (record: SessionRecord) => void): void;
  /** Stops timers (module shutdown). */
  close(): Promise<void>;
}

/** Injection token of the {@link SessionStore}. */
export const SessionStore = Symbol('SessionStore');
