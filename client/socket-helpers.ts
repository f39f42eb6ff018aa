import { POSITIONS_SUBPROTOCOL_PREFIX } from '../src/protocol/resume-positions.js';
import { credentialSubprotocols, type SubprotocolCredential } from '../src/protocol/subprotocol.js';
import type { CredentialTransport, WebSocketLike } from './types.js';

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

/** What a socket is opened with: the URL and, when the credential travels as a subprotocol, the protocols to offer. */
export interface UpgradeTarget {
  url: string;
  protocols?: string[];
}

/**
 * The upgrade with one credential: a JWT for a fresh login or a reconnect token for a resume,
 * never both: a `token` or `reconnectToken` left in the app's URL or from an earlier attempt
 * must not ride along, so both are always removed from the URL. With `'subprotocol'` the
 * credential is offered in `Sec-WebSocket-Protocol` (`canvas.v1` + `canvas.auth.<jwt>` or
 * `canvas.resume.<token>`) and the URL carries none; with `'query'` it goes in the URL.
 * http(s) becomes ws(s).
 *
 * A resume also carries the rooms' last processed positions (`positions`, already encoded), in
 * the same place as the credential: `canvas.pos.<encoded>` or `?positions=`. A fresh login
 * carries none (the server ignores them there), and a stale `positions` in the app's URL is removed.
 */
export function upgradeTarget(base: string, credential: SubprotocolCredential, where: CredentialTransport, positions?: string): UpgradeTarget {
  const url = new URL(base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  url.searchParams.delete('token');
  url.searchParams.delete('reconnectToken');
  url.searchParams.delete('positions');
  const withPositions = positions !== undefined && 'reconnectToken' in credential;
  if (where === 'subprotocol') {
    const protocols = credentialSubprotocols(credential);
    if (withPositions) protocols.push(`${POSITIONS_SUBPROTOCOL_PREFIX}${positions}`);
    return { url: url.toString(), protocols };
  }
  if ('token' in credential) url.searchParams.set('token', credential.token);
  else url.searchParams.set('reconnectToken', credential.reconnectToken);
  if (withPositions) url.searchParams.set('positions', positions);
  return { url: url.toString() };
}
