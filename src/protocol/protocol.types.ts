/**
 * Wire protocol v1: every frame is one UTF-8 JSON text frame with a string `type`.
 * These types are the single source of truth for server and clients (docs/protocol.md).
 */

/** A client-chosen correlation id: a string or an integer, at most 64 characters. */
export type RequestId = string | number;

export interface JoinFrame {
  type: 'join';
  canvasId: string;
  id?: RequestId;
}
export interface LeaveFrame {
  type: 'leave';
  canvasId: string;
  id?: RequestId;
}
export interface MessageFrame {
  type: 'message';
  canvasId: string;
  data: unknown;
  id?: RequestId;
  /**
   * Acknowledged idempotent publish: a positive safe integer, strictly increasing per session
   * (it continues across resumes). The server answers `ack` once the message is accepted, and
   * acknowledges a resend (a `seq` not above what the session already had accepted in the room)
   * again without delivering it again. Without `seq` a message is fire and forget.
   */
  seq?: number;
}
export interface PingFrame {
  type: 'ping';
  id?: RequestId;
}
export interface ReauthFrame {
  type: 'reauth';
  token: string;
  id?: RequestId;
}

/** Every frame a client may send. */
export type ClientFrame = JoinFrame | LeaveFrame | MessageFrame | PingFrame | ReauthFrame;

/** A presence entry: one per distinct user in a room, however many tabs they have. */
export interface PresenceMember {
  userId: string;
  /** Omitted when the user's token carries no `name`. */
  name?: string;
  /** How many connections (tabs) of this user are in the room. */
  connections: number;
}

export interface ConnectionAckFrame {
  type: 'connection_ack';
  connectionId: string;
  sessionId: string;
  userId: string;
  tenantId: string;
  reconnectToken: string;
  heartbeatIntervalMs: number;
  resumed: boolean;
  /** canvasIds restored by a resume; always `[]` on a fresh connection. */
  rooms: string[];
  /** Only on a resumed ack: whether missed messages follow and whether some were dropped. */
  missed?: 'none' | 'replayed' | 'truncated';
  /** Only on a resumed ack: the highest `seq` this session had accepted (0: none). */
  lastSeq?: number;
}

export interface RoomJoinedFrame {
  type: 'room_joined';
  id?: RequestId;
  roomId: string;
  canvasId: string;
  /** The room log's position when this connection started receiving: every later message reaches it. */
  pos: string;
}
export interface RoomLeftFrame {
  type: 'room_left';
  id?: RequestId;
  roomId: string;
  canvasId: string;
}
export interface PresenceStateFrame {
  type: 'presence_state';
  roomId: string;
  canvasId: string;
  members: PresenceMember[];
}
export interface PresenceJoinFrame {
  type: 'presence_join';
  roomId: string;
  canvasId: string;
  member: PresenceMember;
}
export interface PresenceLeaveFrame {
  type: 'presence_leave';
  roomId: string;
  canvasId: string;
  userId: string;
}
export interface RoomMessageFrame {
  type: 'message';
  /**
   * The message's position in the room's log: opaque, ordered per room (`<epoch>.<n>`). A client
   * keeps the last one it processed per room and sends it on resume. Absent only on a message
   * delivered while the room log was unreachable (cluster mode, Redis down): it cannot be replayed.
   */
  pos?: string;
  roomId: string;
  canvasId: string;
  from: { userId: string; connectionId: string };
  data: unknown;
}
/** A `message` with `seq` was accepted (or was a resend of one already accepted: not delivered again). */
export interface AckFrame {
  type: 'ack';
  seq: number;
  id?: RequestId;
}
export interface PongFrame {
  type: 'pong';
  id?: RequestId;
}
export interface ReauthRequiredFrame {
  type: 'reauth_required';
  reason: 'token_expired';
  graceMs: number;
}
export interface ReauthOkFrame {
  type: 'reauth_ok';
  id?: RequestId;
  expiresAt: number;
}
export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
  id?: RequestId;
  /** Set on a ROOM_FULL that follows a resumed ack: the canvas that could not be restored. */
  canvasId?: string;
  /** Set when the refused frame was a `message` with a `seq`: that message was not accepted. */
  seq?: number;
}

/** Every frame the server may send. */
export type ServerFrame =
  | ConnectionAckFrame
  | RoomJoinedFrame
  | RoomLeftFrame
  | PresenceStateFrame
  | PresenceJoinFrame
  | PresenceLeaveFrame
  | RoomMessageFrame
  | AckFrame
  | PongFrame
  | ReauthRequiredFrame
  | ReauthOkFrame
  | ErrorFrame;

/** Error codes of `error` frames. */
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  NOT_IN_ROOM: 'NOT_IN_ROOM',
  ROOM_FULL: 'ROOM_FULL',
  FORBIDDEN: 'FORBIDDEN',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  UNAVAILABLE: 'UNAVAILABLE',
  /** A join past `maxRoomsPerConnection` rooms on this connection. */
  TOO_MANY_ROOMS: 'TOO_MANY_ROOMS',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes of refused upgrades (HTTP body `{"error":{"code","message"}}`). */
export const UpgradeRefusalCode = {
  DRAINING: 'DRAINING',
  RATE_LIMITED: 'RATE_LIMITED',
  /** HTTP 400: the upgrade's resume positions are malformed. */
  BAD_REQUEST: 'BAD_REQUEST',
  ORIGIN_NOT_ALLOWED: 'ORIGIN_NOT_ALLOWED',
  SERVER_FULL: 'SERVER_FULL',
  UNAUTHORIZED: 'UNAUTHORIZED',
  UNAVAILABLE: 'UNAVAILABLE',
  /** HTTP 429: the user's or the tenant's connection quota is used up (`quota` names which). */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
} as const;
export type UpgradeRefusalCode = (typeof UpgradeRefusalCode)[keyof typeof UpgradeRefusalCode];

/** WebSocket close codes this server uses. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** Sent by ws itself when the peer vanished; never on the wire. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  /** Slow consumer: more than maxBufferedBytes queued and unsent. */
  TRY_AGAIN_LATER: 1013,
  SESSION_TAKEN_OVER: 4000,
  TOKEN_EXPIRED: 4001,
  IDENTITY_MISMATCH: 4003,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The wire room id of a canvas. Tenant scoping is internal and never shown to clients. */
export function wireRoomId(canvasId: string): string {
  return `canvas:${canvasId}`;
}
