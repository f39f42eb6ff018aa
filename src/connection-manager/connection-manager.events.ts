import type { PresenceMember } from '../protocol/protocol.types.js';

/**
 * Domain events published over @nestjs/event-emitter. Names are constants, payloads classes,
 * so listeners can `@OnEvent(ConnectionManagerEvent.RoomJoined)` and type the argument.
 * Events are emitted synchronously with `emit()`: a listener that throws is logged by the
 * emitter and neither breaks the connection nor stops the other listeners.
 * Each instance emits events for its own connections only.
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
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    readonly name: string | undefined,
    readonly ip: string,
    readonly resumed: boolean,
  ) {}
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
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    readonly code: number,
    readonly reason: string,
    readonly cause: CloseCause,
    /** Whether the session may still be resumed with its reconnect token. */
    readonly resumable: boolean,
  ) {}
}

/** `connection.refused`: an upgrade answered with an HTTP error; no socket was opened. */
export class ConnectionRefusedEvent {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly ip: string,
  ) {}
}

/** `connection.message`: a valid `message` frame from a member of the room. */
export class ConnectionMessageEvent implements ConnectionRef {
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    /** Tenant-scoped internal room key. */
    readonly roomKey: string,
    readonly roomId: string,
    readonly canvasId: string,
    readonly data: unknown,
  ) {}
}

/** `room.joined`: a connection entered a room (or re-entered it on resume). */
export class RoomJoinedEvent implements ConnectionRef {
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    readonly roomKey: string,
    readonly roomId: string,
    readonly canvasId: string,
    /** The joining user's presence entry after the join. */
    readonly member: PresenceMember,
    /** True when this is the user's first connection in the room (others then see presence_join). */
    readonly firstConnectionOfUser: boolean,
    /** The room's presence right after the join, the joiner included. */
    readonly members: PresenceMember[],
    /** True when the join restored a room of a resumed session. */
    readonly resumed: boolean,
  ) {}
}

/** `room.join_refused`: a join answered with ROOM_FULL, FORBIDDEN or UNAVAILABLE. */
export class RoomJoinRefusedEvent implements ConnectionRef {
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    readonly canvasId: string,
    readonly code: 'ROOM_FULL' | 'FORBIDDEN' | 'UNAVAILABLE',
  ) {}
}

export type RoomLeftReason = 'leave' | 'disconnect' | 'kicked';

/** `room.left`: a connection left a room. */
export class RoomLeftEvent implements ConnectionRef {
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    readonly roomKey: string,
    readonly roomId: string,
    readonly canvasId: string,
    readonly reason: RoomLeftReason,
    /** True when the user has no connection left in the room (others then see presence_leave). */
    readonly lastConnectionOfUser: boolean,
  ) {}
}

/** `auth.reauthenticated`: a `reauth` frame moved a connection's expiry. */
export class AuthReauthenticatedEvent implements ConnectionRef {
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    readonly expiresAt: number,
  ) {}
}

/** `auth.expired`: the reauth grace ran out; the connection is closed with 4001. */
export class AuthExpiredEvent implements ConnectionRef {
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
  ) {}
}

/** `session.resumed`: a reconnect token restored a session on a new connection. */
export class SessionResumedEvent implements ConnectionRef {
  constructor(
    readonly connectionId: string,
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    readonly previousConnectionId: string,
    readonly rooms: string[],
    readonly missed: 'none' | 'replayed' | 'truncated',
  ) {}
}

/** `session.expired`: the reconnect TTL ran out without a resume; its rooms are gone for good. */
export class SessionExpiredEvent {
  constructor(
    readonly sessionId: string,
    readonly userId: string,
    readonly tenantId: string,
    readonly rooms: string[],
  ) {}
}
