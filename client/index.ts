/**
 * Client SDK of the Canvas Connection Manager: browsers and Node, no NestJS.
 *
 *   import { connect } from 'canvas-connection-manager/client';  // the package (dist/sdk/client)
 *   import { connect } from './client/index.js';                 // source, in this repository
 *   import { connect } from '/demo/sdk/client/index.js';         // compiled ES modules the demo serves
 *
 * The wire types come from the server's own src/protocol/protocol.types.ts, so the two cannot drift.
 */
import { CanvasClient } from './client.js';
import type { ConnectOptions } from './types.js';

/**
 * Opens a connection that stays up (see {@link CanvasClient}). Returns at once; the state goes
 * `connecting` → `connected`. Requests made before that are sent once the connection is up.
 */
export function connect<TData = unknown>(options: ConnectOptions): CanvasClient<TData> {
  return new CanvasClient<TData>(options);
}

export { CanvasClient } from './client.js';
export { backoffDelay, parseRetryAfter, resolveBackoff, DEFAULT_BACKOFF, type BackoffOptions, type ResolvedBackoff } from './backoff.js';
export * from './types.js';
// Wire protocol v1: every frame type, so apps can type what they log or forward.
export type {
  RequestId,
  ClientFrame,
  JoinFrame,
  LeaveFrame,
  MessageFrame,
  PingFrame,
  ReauthFrame,
  ServerFrame,
  ConnectionAckFrame,
  RoomJoinedFrame,
  RoomLeftFrame,
  PresenceStateFrame,
  PresenceJoinFrame,
  PresenceLeaveFrame,
  RoomMessageFrame,
  AckFrame,
  PongFrame,
  ReauthRequiredFrame,
  ReauthOkFrame,
  ErrorFrame,
  PresenceMember,
} from '../src/protocol/protocol.types.js';
export { CloseCode, ErrorCode, UpgradeRefusalCode } from '../src/protocol/protocol.types.js';
