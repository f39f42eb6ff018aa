import type { PresenceMember } from '../protocol/protocol.types.js';

/**
 * Domain events published over @nestjs/event-emitter. Names are constants, payloads classes,
 * so listeners can `@OnEvent(ConnectionManagerEvent.RoomJoined)` and type the argument.
 * Events are published synchronously by DomainEventPublisher, which calls each listener in
 * turn: a listener that throws (or an async one that rejects) is logged and neither breaks the
 * connection nor stops the other listeners. Payloads are built from one object each
 * (`new RoomLeftEvent({ connectionId, … })`), never from positional arguments.
 * Each instance publishes events for its own connections only.
 */
export const ConnectionManagerEvent = {
  ConnectionEstablished: 'connection.established',
  ConnectionClosed: 'connection.closed',
  ConnectionRefused: 'connection.refused',
  ConnectionMessage: 'connection.message',
  RoomJoined: 'room.joined',
  RoomLeft: 'room.left',
  RoomJoinRefused: 'room.join_refused',
  AuthReauthenticated: 'auth.reauthenticated',
  AuthExpired: 'auth.expired',
  SessionResumed: 'session.resumed',
  SessionExpired: 'session.expired',
} as const;
export type ConnectionManagerEventName = (typeof ConnectionManagerEvent)[keyof typeof ConnectionManagerEvent];

/** Who a connection is, as carried by every connection-scoped event. */
export interface ConnectionRef {
  connectionId: string;
  sessionId: string;
  userId: string;
  tenantId: string;
}

/** `connection.established`: a socket opened after a successful upgrade (fresh or resumed). */
export class ConnectionEstablishedEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly name: string | undefined;
  readonly ip: string;
  readonly resumed: boolean;

  constructor(init: ConnectionEstablishedEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.name = init.name;
    this.ip = init.ip;
    this.resumed = init.resumed;
  }
}

/** Why a connection ended, from the server's point of view. */
export type CloseCause =
  | 'client' // the client closed or the socket dropped
  | 'heartbeat_timeout'
  | 'policy_violation' // 1008: too many invalid frames
  | 'message_too_big' // 1009
  | 'token_expired' // 4001
  | 'identity_mismatch' // 4003
  | 'session_taken_over' // 4000
  | 'disconnected_by_server' // ConnectionService.disconnect / disconnectUser
  | 'server_shutdown' // 1012 drain
  | 'slow_consumer' // 1013: unsent bytes over maxBufferedBytes
  | 'error';

/** `connection.closed`: the disconnect notification (who, why, close code). */
export class ConnectionClosedEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly code: number;
  readonly reason: string;
  readonly cause: CloseCause;
  /** Whether the session may still be resumed with its reconnect token. */
  readonly resumable: boolean;

  constructor(init: ConnectionClosedEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.code = init.code;
    this.reason = init.reason;
    this.cause = init.cause;
    this.resumable = init.resumable;
  }
}

/** `connection.refused`: an upgrade answered with an HTTP error; no socket was opened. */
export class ConnectionRefusedEvent {
  readonly status: number;
  readonly code: string;
  readonly ip: string;
  /** `QUOTA_EXCEEDED` only: which connection quota was used up. */
  readonly quota?: 'user' | 'tenant';

  constructor(init: ConnectionRefusedEvent) {
    this.status = init.status;
    this.code = init.code;
    this.ip = init.ip;
    if (init.quota !== undefined) this.quota = init.quota;
  }
}

/** `connection.message`: a valid `message` frame from a member of the room. */
export class ConnectionMessageEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  /** Tenant-scoped internal room key. */
  readonly roomKey: string;
  readonly roomId: string;
  readonly canvasId: string;
  /**
   * The client's `data`, as JSON.parse made it: it may hold own keys named `__proto__` or
   * `constructor` (forwarded verbatim, docs/protocol.md). Never deep-merge it into a plain object.
   */
  readonly data: unknown;
  /**
   * The message's `seq` (acknowledged idempotent publish), when it had one. A router that
   * publishes the message passes it on to RoomService.publish, which acknowledges it.
   */
  readonly seq?: number;
  /** The frame's `id`, when it had one (echoed on the `ack`). */
  readonly requestId?: string | number;

  constructor(init: ConnectionMessageEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.roomKey = init.roomKey;
    this.roomId = init.roomId;
    this.canvasId = init.canvasId;
    this.data = init.data;
    this.seq = init.seq;
    this.requestId = init.requestId;
  }
}

/** `room.joined`: a connection entered a room (or re-entered it on resume). */
export class RoomJoinedEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly roomKey: string;
  readonly roomId: string;
  readonly canvasId: string;
  /** The joining user's presence entry after the join. */
  readonly member: PresenceMember;
  /** True when this is the user's first connection in the room (others then see presence_join). */
  readonly firstConnectionOfUser: boolean;
  /** The room's presence right after the join, the joiner included. */
  readonly members: PresenceMember[];
  /** True when the join restored a room of a resumed session. */
  readonly resumed: boolean;

  constructor(init: RoomJoinedEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.roomKey = init.roomKey;
    this.roomId = init.roomId;
    this.canvasId = init.canvasId;
    this.member = init.member;
    this.firstConnectionOfUser = init.firstConnectionOfUser;
    this.members = init.members;
    this.resumed = init.resumed;
  }
}

/** `room.join_refused`: a join answered with ROOM_FULL, FORBIDDEN or UNAVAILABLE. */
export class RoomJoinRefusedEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly canvasId: string;
  readonly code: 'ROOM_FULL' | 'FORBIDDEN' | 'UNAVAILABLE' | 'TOO_MANY_ROOMS';

  constructor(init: RoomJoinRefusedEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.canvasId = init.canvasId;
    this.code = init.code;
  }
}

export type RoomLeftReason = 'leave' | 'disconnect' | 'kicked';

/** `room.left`: a connection left a room. */
export class RoomLeftEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly roomKey: string;
  readonly roomId: string;
  readonly canvasId: string;
  readonly reason: RoomLeftReason;
  /** True when the user has no connection left in the room (others then see presence_leave). */
  readonly lastConnectionOfUser: boolean;

  constructor(init: RoomLeftEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.roomKey = init.roomKey;
    this.roomId = init.roomId;
    this.canvasId = init.canvasId;
    this.reason = init.reason;
    this.lastConnectionOfUser = init.lastConnectionOfUser;
  }
}

/** `auth.reauthenticated`: a `reauth` frame moved a connection's expiry. */
export class AuthReauthenticatedEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly expiresAt: number;

  constructor(init: AuthReauthenticatedEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.expiresAt = init.expiresAt;
  }
}

/** `auth.expired`: the reauth grace ran out; the connection is closed with 4001. */
export class AuthExpiredEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;

  constructor(init: AuthExpiredEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
  }
}

/** `session.resumed`: a reconnect token restored a session on a new connection. */
export class SessionResumedEvent implements ConnectionRef {
  readonly connectionId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly previousConnectionId: string;
  readonly rooms: string[];
  readonly missed: 'none' | 'replayed' | 'truncated';

  constructor(init: SessionResumedEvent) {
    this.connectionId = init.connectionId;
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.previousConnectionId = init.previousConnectionId;
    this.rooms = init.rooms;
    this.missed = init.missed;
  }
}

/** `session.expired`: the reconnect TTL ran out without a resume; its rooms are gone for good. */
export class SessionExpiredEvent {
  readonly sessionId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly rooms: string[];

  constructor(init: SessionExpiredEvent) {
    this.sessionId = init.sessionId;
    this.userId = init.userId;
    this.tenantId = init.tenantId;
    this.rooms = init.rooms;
  }
}
