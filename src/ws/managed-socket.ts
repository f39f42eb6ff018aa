import type { ClientConnection } from '../domain/connections/client-connection.js';

/**
 * The connection a managed socket belongs to, stored on the ws socket itself. Why a property
 * and not a closure per listener: the socket's listeners are shared functions (one set per
 * instance, `this` = the socket), so an idle connection carries no closures or contexts of
 * its own (see docs/performance.md). A symbol keeps it out of ws's own fields.
 */
export const MANAGED_CONNECTION = Symbol('connectionManager.connection');

/** A ws socket taken over by the connection handler. */
export interface ManagedSocket {
  [MANAGED_CONNECTION]?: ClientConnection;
}

/** The connection of a socket the handler took over, if any. */
export function managedConnectionOf(socket: unknown): ClientConnection | undefined {
  return (socket as ManagedSocket | null)?.[MANAGED_CONNECTION];
}
