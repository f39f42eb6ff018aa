import type { WebSocketLike } from './types.js';

/** WebSocket readyState OPEN, the same in browsers and `ws`. */
export const OPEN = 1;

/** Stops a socket's events from reaching the client (keeps a no-op error handler: `ws` throws without one). */
export function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = () => {};
}

/** Destroys a socket without waiting for a close handshake a dead peer will never answer. */
export function killSocket(socket: WebSocketLike): void {
  try {
    if (typeof socket.terminate === 'function') socket.terminate();
    else socket.close();
  } catch {
    // already closed
  }
}

/**
 * The upgrade URL with one credential: a JWT (`token`) for a fresh login or a `reconnectToken`
 * for a resume, never both: one left in the app's URL or from an earlier attempt must not ride
 * along. http(s) becomes ws(s).
 */
export function withQuery(base: string, key: 'token' | 'reconnectToken', value: string): string {
  const url = new URL(base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  url.searchParams.delete('token');
  url.searchParams.delete('reconnectToken');
  url.searchParams.set(key, value);
  return url.toString();
}
