/**
 * Credentials in `Sec-WebSocket-Protocol`. Browsers cannot set `Authorization` on
 * `new WebSocket()`, and a credential in the URL ends up in the access logs of every reverse
 * proxy and load balancer on the way. The subprotocol list is a header (not logged by default)
 * that browsers do let a page set: `new WebSocket(url, ['canvas.v1', 'canvas.auth.<jwt>'])`.
 *
 * The client offers {@link SUBPROTOCOL} plus at most one credential entry; the server selects
 * exactly `canvas.v1` (a browser fails the handshake unless the server selects one of the
 * offered names, and selecting the credential entry would echo it). A compact JWT (base64url
 * and dots) and a reconnect token (base64url) are both valid subprotocol tokens as they are.
 */

/** The subprotocol of wire protocol v1: the only name the server ever selects. */
export const SUBPROTOCOL = 'canvas.v1';

/** Prefix of the entry that carries a compact JWT (same as `?token=`). */
export const AUTH_SUBPROTOCOL_PREFIX = 'canvas.auth.';

/** Prefix of the entry that carries a reconnect token (same as `?reconnectToken=`). */
export const RESUME_SUBPROTOCOL_PREFIX = 'canvas.resume.';

/** The one credential an upgrade carries: a JWT (fresh login) or a reconnect token (resume). */
export type SubprotocolCredential = { token: string } | { reconnectToken: string };

/** What a client offers for `credential`: `['canvas.v1', 'canvas.auth.<jwt>']` or `['canvas.v1', 'canvas.resume.<token>']`. */
export function credentialSubprotocols(credential: SubprotocolCredential): string[] {
  const entry = 'token' in credential ? `${AUTH_SUBPROTOCOL_PREFIX}${credential.token}` : `${RESUME_SUBPROTOCOL_PREFIX}${credential.reconnectToken}`;
  return [SUBPROTOCOL, entry];
}
