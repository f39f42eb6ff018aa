/**
 * Client SDK of the Canvas Connection Manager: browsers and Node, no NestJS.
 *
 *   import { connect } from './client/index.js';          // source (TypeScript)
 *   import { connect } from '/demo/sdk/client/index.js';  // compiled ES modules (npm run build → dist/sdk)
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
export type {
  ConnectionAckFrame,
  ErrorCode,
  PresenceMember,
  RoomMessageFrame,
  ServerFrame,
  ClientFrame,
  UpgradeRefusalCode,
} from '../src/protocol/protocol.types.js';
export { CloseCode } from '../src/protocol/protocol.types.js';
