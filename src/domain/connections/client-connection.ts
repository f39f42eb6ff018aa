import type { CloseCause, ConnectionRef } from '../../kernel/connection-manager.events.js';
import type { Identity } from './identity.js';
import type { SocketLike } from '../ports/socket.port.js';
import { SOCKET_OPEN, TEXT_FRAME } from '../ports/socket.port.js';
import { ConnectionRooms } from '../rooms/connection-rooms.js';
import type { AbuseCounters } from './abuse-counters.js';
import { CLOCK_ORIGIN } from './window-clock.js';
import { idTags, tagsInclude } from './id-tag.js';

/** Why the server ends a connection: the cause, whether it may be resumed, the close code sent (if any). */
export interface ServerClose {
  cause: CloseCause;
  /** Whether the session may be resumed with its reconnect token after this close. */
  resumable: boolean;
  /** The close code sent; absent when the socket is destroyed without a close frame. */
  code?: number;
}

/** Writes to a connection: the outbound bound (see ConnectionService.admitSend), then the write itself. */
export interface OutboundGuard {
  admitSend(connection: ClientConnection): boolean;
  /** Writes one text frame to the connection's open socket (the transport's encoded write when there is one). */
  write(connection: ClientConnection, payload: string | Buffer): void;
}

const ALIVE = 1;
const CLOSED = 2;
const RESUMABLE = 4;
const IN_REAUTH_GRACE = 8;
/** {@link ClientConnection.credentialDeadline} 0 ("already past"): the smallest small integer on every V8 build. */
const NO_DEADLINE = -(2 ** 30);

/**
 * One open WebSocket and its per-connection state. Kept deliberately small (a few numbers,
 * one short array of rooms): at 1000+ connections per instance every field costs, see docs/performance.md.
 */
export class ClientConnection {
  // The fields every broadcast reads per recipient (RoomDelivery.fanOut) come first: fields are
  // laid out in declaration order, after the constructor's (socket is the last of those), so these
  // share the object's first cache lines.
  /** Fingerprints of {@link id} and {@link sessionId} (see id-tag.ts): what {@link isNamedBy} compares first. */
  private readonly idTags: number;
  /** alive, closed, resumable and inReauthGrace as bits of one small integer (one field, not four). */
  private flags = ALIVE | RESUMABLE;
  /**
   * While a resume is being set up, room frames are held here instead of sent (with the position
   * of logged messages as id, so ones also found in the replay are sent once). null otherwise.
   */
  held: Array<{ id: string | undefined; roomKey: string; bytes: Buffer }> | null = null;
  /**
   * Cluster mode, per room key: the last position the client has, after a resume with positions
   * (given or replayed) or a fresh join (its `room_joined.pos`). A room message at or below it
   * that reaches this instance late (its bus delivery was still in flight when the replay or the
   * head was read) is not sent. A room's floor goes once a message above it is delivered, or when
   * the connection leaves the room ({@link dropReplayFloor}); null when none is left (the usual
   * case: one null check per delivery).
   */
  replayFloors: Map<string, { epoch: string; n: number }> | null = null;
  /** The rooms this connection has joined, by canvasId. */
  readonly rooms = new ConnectionRooms();
  /** Why the server ended the connection (heartbeat_timeout, token_expired, …); unset for a client close. */
  closeCause: CloseCause | undefined;
  /**
   * The close code the server sent, if it closed the connection. Reported in
   * `connection.closed` even when the peer never answered the close frame (ws then says 1006).
   */
  closeCode: number | undefined;
  /** Fixed one-second window of the per-connection message rate (ms of windowClock(); the first frame opens one). */
  rateWindowStart = -1000;
  rateCount = 0;
  /** Counters of rate-limited and invalid frames; made on the first such frame (abuse-counters.ts). */
  abuse: AbuseCounters | undefined = undefined;
  /**
   * Checked before every write (set by ConnectionService.register; shared by every connection).
   * Unset only for a connection that was never registered: nothing is checked then.
   */
  outbound: OutboundGuard | undefined = undefined;
  /** Tail of the per-connection queue: frames wait here while an async one (join, leave) runs. */
  pending: Promise<void> | null = null;
  /**
   * Room messages that arrived after the socket left OPEN (a close handshake under way) and
   * before the close completed: they become the start of the session's replay buffer, so a
   * message sent during a drain or a client's close is not lost. Bounded like a replay buffer.
   */
  closingBuffer: Array<{ roomKey: string; id: string; frame: string }> | null = null;
  /**
   * The highest `seq` accepted from this connection's session as far as this connection knows
   * (the resumed ack's `lastSeq`, then each acknowledged message): a `seq` not above it is a
   * resend, acknowledged without a log round trip. The room logs decide the rest (issue 16).
   */
  lastSeq = 0;
  /** SHA-256 of the reconnect token last given to this connection (re-registered after a Redis outage). */
  tokenHash: string | undefined;
  /**
   * The token-expiry deadline's bucket in TokenExpiryService's wheel (0 = none): `exp` first
   * (reauth_required), then the end of the grace (4001) while `inReauthGrace`.
   */
  expirySlot = 0;
  /** {@link credentialDeadline} in ms since CLOCK_ORIGIN (a small integer, see {@link openedAt}); NO_DEADLINE for 0. */
  private deadlineOffset = NO_DEADLINE;

  constructor(
    readonly id: string,
    readonly sessionId: string,
    public identity: Identity,
    readonly ip: string,
    readonly socket: SocketLike,
    connectedAt: number,
  ) {
    this.openedAt = connectedAt - CLOCK_ORIGIN;
    this.idTags = idTags(id, sessionId);
  }

  /** Drops the room's {@link replayFloors} entry, and the map once it is empty. */
  dropReplayFloor(roomKey: string): void {
    const floors = this.replayFloors;
    if (floors === null || !floors.delete(roomKey) || floors.size > 0) return;
    this.replayFloors = null;
  }

  /**
   * Whether `name` is this connection's id or its session's id (a broadcast's `except`, see
   * RoomDelivery.deliver). `tag` is `idTag(name)`, computed once per broadcast: the id strings are
   * read only when a fingerprint matches.
   */
  isNamedBy(name: string, tag: number): boolean {
    return tagsInclude(this.idTags, tag) && (this.id === name || this.sessionId === name);
  }

  /**
   * When the connection opened, in ms since {@link CLOCK_ORIGIN}: a small integer where an
   * epoch-ms value would be a boxed double (16 B per connection).
   */
  private readonly openedAt: number;

  /** When the connection opened (epoch ms). */
  get connectedAt(): number {
    return CLOCK_ORIGIN + this.openedAt;
  }

  /** Cleared by the heartbeat tick, set again by a pong or any frame. */
  get alive(): boolean {
    return (this.flags & ALIVE) !== 0;
  }
  set alive(value: boolean) {
    this.flags = value ? this.flags | ALIVE : this.flags & ~ALIVE;
  }
  /** Set once the socket closed; async work that resumes later checks it. */
  get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  set closed(value: boolean) {
    this.flags = value ? this.flags | CLOSED : this.flags & ~CLOSED;
  }
  /** Whether this close may be resumed with the reconnect token (true unless a close said otherwise). */
  get resumable(): boolean {
    return (this.flags & RESUMABLE) !== 0;
  }
  /** Whether the connection is in its reauth grace (after `reauth_required`, before the deadline). */
  get inReauthGrace(): boolean {
    return (this.flags & IN_REAUTH_GRACE) !== 0;
  }
  set inReauthGrace(value: boolean) {
    this.flags = value ? this.flags | IN_REAUTH_GRACE : this.flags & ~IN_REAUTH_GRACE;
  }

  /**
   * The session's credential deadline (epoch ms; see credential-deadline.ts): the 4001 close comes
   * at it, whatever `reauth_required` said. Set from the admitted upgrade before the connection
   * is started and by a successful reauth. 0 until then: already past, so a connection that
   * somehow missed it is closed rather than kept without a deadline (fails closed). Kept as an
   * offset from CLOCK_ORIGIN, so it stays a small integer for deadlines up to ~12 days after the
   * process started (a later one is stored as a boxed double: 16 B more, nothing else changes).
   */
  get credentialDeadline(): number {
    return this.deadlineOffset === NO_DEADLINE ? 0 : CLOCK_ORIGIN + this.deadlineOffset;
  }
  set credentialDeadline(epochMs: number) {
    this.deadlineOffset = epochMs === 0 ? NO_DEADLINE : epochMs - CLOCK_ORIGIN;
  }

  get userId(): string {
    return this.identity.userId;
  }
  get tenantId(): string {
    return this.identity.tenantId;
  }
  /** Who this connection is, as every connection-scoped event carries it. */
  ref(): ConnectionRef {
    return { connectionId: this.id, sessionId: this.sessionId, userId: this.identity.userId, tenantId: this.identity.tenantId };
  }
  get isOpen(): boolean {
    return !this.closed && this.socket.readyState === SOCKET_OPEN;
  }

  /**
   * Records why the server is ending this connection: the one place that writes `closeCause`,
   * `closeCode` and `resumable` (ConnectionService's close/terminate and the transport's socket
   * errors call it; the lifecycle only reads them). The first reason wins: a later one (the
   * heartbeat terminating a socket already closing for a policy violation) does not replace it.
   * `code` is the close code the server sent, if it sent one.
   */
  recordClose(close: ServerClose): void {
    if (this.closeCause !== undefined) return;
    this.closeCause = close.cause;
    if (!close.resumable) this.flags &= ~RESUMABLE;
    if (close.code !== undefined) this.closeCode = close.code;
  }

  /**
   * Sends a serialized frame (always as a text frame) if the socket is open and within the
   * outbound bound. Returns whether it was written: a closed socket, or one just closed as a
   * slow consumer, drops it.
   */
  send(payload: string | Buffer): boolean {
    if (!this.writable()) return false;
    if (this.outbound === undefined) this.socket.send(payload, TEXT_FRAME);
    else this.outbound.write(this, payload);
    return true;
  }

  /** Serializes and sends one frame, like {@link send}. */
  sendFrame(frame: object): boolean {
    return this.send(JSON.stringify(frame));
  }

  /** Open, and the outbound bound lets one more frame through (past it, the guard closes the connection). */
  writable(): boolean {
    return this.isOpen && (this.outbound === undefined || this.outbound.admitSend(this));
  }
}
