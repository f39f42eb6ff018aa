import { WebSocket } from 'ws';
import type { ClientConnection } from '../domain/connections/client-connection.js';

/**
 * The WebSocket class of the Connection Manager's server (ws's `WebSocket` server option): ws's
 * own, plus the connection the socket belongs to, in a declared field.
 *
 * Why a field on the socket and not a closure per listener: the socket's listeners are shared
 * functions (one set per instance, `this` = the socket), so an idle connection carries no
 * closures or contexts of its own. Why a declared field and not a property added later: an
 * added property (the symbol this used to be) gives every socket an out-of-object property
 * store (~40 B each, and a slower lookup on every frame); a field declared by the class is
 * in-object from the start. See docs/performance.md.
 */
export class ManagedWebSocket extends WebSocket {
  /** The connection, once the handler took the socket over; undefined before. */
  connection: ClientConnection | undefined = undefined;
  /** The write batch's mark for this socket (WsWriteBatch: whether it is corked until the end of the turn). */
  batchMark = 0;
  /** Whether frames to this socket go uncompressed, once the write batch has looked (ws-write-batch.ts: plainFrames). */
  plainFrames: boolean | undefined = undefined;
}

/** A socket as the handler's shared listeners see it (`this`). */
export interface ManagedSocket {
  connection?: ClientConnection | undefined;
}

/** The connection of a socket the handler took over, if any (undefined for any other socket). */
export function managedConnectionOf(socket: unknown): ClientConnection | undefined {
  return (socket as ManagedSocket | null)?.connection;
}
