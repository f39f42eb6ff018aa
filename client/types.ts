import type { ConnectionAckFrame, ErrorCode, PresenceMember, RoomJoinedFrame, RoomMessageFrame, UpgradeRefusalCode } from '../src/protocol/protocol.types.js';
import type { BackoffOptions } from './backoff.js';

/**
 * The connection as the app sees it:
 * - `connecting`: the first connection is being opened (and retried) and has no ack yet;
 * - `connected`: a fresh session is live (also after a fresh login that replaced a lost session:
 *   then the state event says `missed: 'lost'`, refetch the canvas);
 * - `reconnecting`: the connection dropped; the SDK is resuming (rooms, presence and missed
 *   messages come back by themselves);
 * - `resumed`: the session was resumed after a drop;
 * - `closed`: `close()` was called, or the server ended the session for good (4000, 4003, a
 *   403 origin refusal, or `getToken()` gave no token). Nothing is retried after that.
 */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'resumed' | 'closed';

/**
 * The part of the WebSocket API the SDK uses: what browsers' `WebSocket` and Node's `ws` both
 * have. Typed loosely on purpose, so that both constructors fit without DOM types.
 */
export interface WebSocketLike {
  readonly readyState: number;
  // `never` parameters: the SDK only assigns these handlers (annotating the event it reads), and
  // any handler type fits a `never` parameter, DOM events and ws's alike.
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: destroys the socket at once (a dead peer never completes a close handshake). */
  terminate?(): void;
  /** `ws` only (EventEmitter): used for 'unexpected-response', the status of a refused upgrade. */
  on?(event: string, listener: (...args: never[]) => void): unknown;
}

/** A WebSocket constructor: browsers' `WebSocket` and Node's `ws` both take `(url, protocols)`. */
export type WebSocketConstructorLike = new (url: string, protocols?: string[]) => WebSocketLike;

/**
 * Where the SDK puts the credential of an upgrade:
 * - `'subprotocol'` (default): in `Sec-WebSocket-Protocol`, next to `canvas.v1`
 *   (`canvas.auth.<jwt>` or `canvas.resume.<reconnectToken>`); the URL carries no credential;
 * - `'query'`: `?token=` / `?reconnectToken=`. Reverse proxies and load balancers log URLs,
 *   and a logged reconnect token is a live credential for minutes: use it only where something
 *   between the client and the server strips or rejects `Sec-WebSocket-Protocol`.
 */
export type CredentialTransport = 'subprotocol' | 'query';

/** Returns a JWT for the upgrade and for `reauth`; null or undefined means "signed out: stop". */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

export interface HeartbeatOptions {
  /** Idle time (no frame received) after which an app-level `ping` is sent. Default 20000 ms. */
  intervalMs?: number;
  /** How long to wait for the `pong` (or any frame) before the connection counts as dead. Default 10000 ms. */
  timeoutMs?: number;
}

export interface ConnectOptions {
  /** `ws://host/ws` or `wss://…` (http(s) is turned into ws(s)). Query parameters are kept. */
  url: string;
  /** Called for the first connection, for a fresh login when a resume is refused, and on `reauth_required`. */
  getToken: TokenProvider;
  /** WebSocket constructor. Default `globalThis.WebSocket` (browsers, Node 22+); on Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructorLike;
  /** How long join, leave, ping and reauth wait for their reply. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** How long an opened socket waits for its `connection_ack` before it is dropped and retried. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** App-level ping to detect dead connections (browsers hide protocol pings). `false` turns it off. */
  heartbeat?: HeartbeatOptions | false;
  /** Reconnect backoff. Defaults: 500 ms doubling to 30 s, 50 % jitter. */
  backoff?: BackoffOptions;
  /**
   * Browsers cannot see why an upgrade failed (401? 503? network?). After this many consecutive
   * resume attempts that failed before the socket opened, with no status visible, the SDK assumes
   * the reconnect token was refused and logs in afresh (rooms rejoined, missed messages lost).
   * Attempts made while `navigator.onLine` is false do not count. Default 5 (with the default
   * backoff, roughly 8–15 s of failures). Not used where the status is visible (Node's `ws`):
   * there a 401 falls back at once and network errors keep resuming.
   */
  maxBlindResumeAttempts?: number;
  /**
   * Most messages `send()` keeps until the server acknowledges them (sent or waiting for a
   * connection). When full, `send()` refuses the new message (its promise rejects with
   * `OUTBOX_FULL`, and an `error` event says so once per episode); nothing already accepted is
   * dropped. Default 1000.
   */
  maxUnackedMessages?: number;
  /**
   * The old name of {@link maxUnackedMessages}, read as its value when that is not set. It bounded
   * the offline queue (oldest dropped, `QUEUE_FULL`); the outbox that replaced it refuses new
   * messages instead.
   * @deprecated Use {@link maxUnackedMessages}.
   */
  maxQueuedMessages?: number;
  /** Where the JWT and the reconnect token go on the upgrade (see {@link CredentialTransport}). Default `'subprotocol'`. */
  credentialsIn?: CredentialTransport;
  /**
   * TESTING ONLY, never in an app: turns off parts of exactly-once delivery so a fault-injection
   * checker can prove it notices loss and duplicates. `positions: true` sends no resume positions
   * (the server falls back to its per-session replay buffers); `seq: true` sends messages without
   * `seq` (fire and forget: each `send()` resolves once written, and what was written before a drop
   * is never resent).
   */
  unsafeDisableExactlyOnce?: { positions?: boolean; seq?: boolean };
}

/** A room message, with `data` typed as the app's message type. */
export type RoomMessage<TData = unknown> = Omit<RoomMessageFrame, 'data'> & { data: TData };

/** The reply to `join()` (the room's position is the SDK's own business: it sends it on resume). */
export type RoomJoined = Omit<RoomJoinedFrame, 'type' | 'id' | 'pos'>;

export type PresenceChange = { kind: 'state' } | { kind: 'join'; member: PresenceMember } | { kind: 'leave'; userId: string };

/** The current member list of a room, after a presence_state, presence_join or presence_leave. */
export interface PresenceEvent {
  canvasId: string;
  members: PresenceMember[];
  change: PresenceChange;
}

export interface StateEvent {
  state: ConnectionState;
  previous: ConnectionState;
  /** `reconnecting` and `closed`: the close that caused it (1006 when the socket just died). */
  closeCode?: number;
  reason?: string;
  /**
   * `resumed`: the server's account of the messages sent while away, as it gives it: `replayed`
   * (they follow, from the last one the app processed in each room), `none`, or `truncated` (some
   * are gone, refetch the canvas). `connected` after a lost session: `lost` (refetch the canvas).
   */
  missed?: ConnectionAckFrame['missed'] | 'lost';
}

/** Codes of SDK errors: the server's error codes, upgrade refusal codes, and the SDK's own. */
export type ClientErrorCode =
  | ErrorCode
  | UpgradeRefusalCode
  /** A request got no reply within `requestTimeoutMs`. */
  | 'TIMEOUT'
  /** The connection dropped before the reply came (pings and reauths are not retried). */
  | 'CONNECTION_LOST'
  /** The client is closed. */
  | 'CLOSED'
  /** `getToken()` threw, or gave no token. */
  | 'TOKEN_UNAVAILABLE'
  /** The upgrade failed and no status could be seen (browsers), or the network is down. */
  | 'CONNECT_FAILED'
  /** Close 4003: a reauth token named another user or tenant. The client stops. */
  | 'IDENTITY_MISMATCH'
  /** Close 4000: another client resumed this session. The client stops. */
  | 'SESSION_TAKEN_OVER'
  /** `send()`: `maxUnackedMessages` messages await their ack; this one was refused (not sent). */
  | 'OUTBOX_FULL'
  /**
   * `send()`: the session this message was sent in could not be resumed (a fresh login replaced
   * it), so whether it reached the room is unknown; it is handed back in the `unacknowledged`
   * event instead of being resent into the new session.
   */
  | 'NOT_DELIVERED'
  /** @deprecated No longer reported: the offline queue became the outbox (`OUTBOX_FULL`). */
  | 'QUEUE_FULL';

export interface ClientErrorEvent {
  code: ClientErrorCode;
  message: string;
  /** The canvas concerned (a failed join, a room not restored by a resume, NOT_IN_ROOM …). */
  canvasId?: string;
  /** A refused upgrade's HTTP status (Node only). */
  status?: number;
  /** The wait the server asked for (Retry-After), which the SDK honours. */
  retryAfterMs?: number;
  /**
   * `QUOTA_EXCEEDED` (429, Node only): the connection quota used up: `user` (this user has too
   * many tabs or devices open) or `tenant`. The SDK retries after Retry-After like any 429.
   */
  quota?: 'user' | 'tenant';
  closeCode?: number;
}

/** A message `send()` took that the server never acknowledged. */
export interface UnacknowledgedMessage<TData = unknown> {
  canvasId: string;
  data: TData;
  /** The seq it had in the lost session. */
  seq: number;
}

/**
 * The session could not be resumed (a fresh login replaced it): these messages, in the order they
 * were sent, may or may not have reached their rooms. They are not resent by themselves (that could
 * double them); their `send()` promises reject with `NOT_DELIVERED`. Emitted after the rooms are
 * rejoined, before the `connected` state event, so sending them again here works.
 */
export interface UnacknowledgedEvent<TData = unknown> {
  messages: UnacknowledgedMessage<TData>[];
}

export interface ClientEvents<TData = unknown> {
  message: RoomMessage<TData>;
  presence: PresenceEvent;
  state: StateEvent;
  error: ClientErrorEvent;
  unacknowledged: UnacknowledgedEvent<TData>;
}

/** Who this connection is, from the latest `connection_ack`. */
export interface SessionInfo {
  sessionId: string;
  connectionId: string;
  userId: string;
  tenantId: string;
}

/** The error a request promise rejects with: `code` is the server's error code or the SDK's. */
export class ConnectionManagerError extends Error {
  override readonly name = 'ConnectionManagerError';
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly canvasId?: string,
  ) {
    super(message);
  }
}
