import type { IncomingMessage } from 'node:http';
import type { UpgradeAttempt } from '../domain/connections/admission.types.js';
import { AUTH_SUBPROTOCOL_PREFIX, RESUME_SUBPROTOCOL_PREFIX, SUBPROTOCOL } from '../protocol/subprotocol.js';
import { decodeResumePositions, POSITIONS_SUBPROTOCOL_PREFIX } from '../protocol/resume-positions.js';
import { clientIp } from './client-ip.js';

/**
 * Reads what the admission needs off an upgrade request: the client IP (`trustProxyHops`
 * trusted proxies), the Origin and the credentials. Nothing of the request is kept.
 *
 * Credentials, per kind, the first place that has one wins:
 * - JWT: `Authorization: Bearer` header, else a `canvas.auth.<jwt>` entry of
 *   `Sec-WebSocket-Protocol`, else `?token=`;
 * - reconnect token: a `canvas.resume.<token>` entry, else `?reconnectToken=`.
 * An entry is treated exactly like its query parameter (an empty JWT counts as absent, as
 * `?token=` does; an empty reconnect token is refused, as `?reconnectToken=` is). The header wins even when it is unusable (not `Bearer …`): it is then
 * refused as invalid, never skipped for a weaker credential.
 */
export function upgradeAttemptOf(req: IncomingMessage, trustProxyHops: number): UpgradeAttempt {
  const query = queryOf(req.url);
  const offered = subprotocolCredentials(req.headers['sec-websocket-protocol']);
  const header = req.headers.authorization;
  const encodedPositions = offered.positions ?? query.get('positions') ?? undefined;
  // Resume positions (src/protocol/resume-positions.ts): decoded, or why they are refused (400).
  const positions = encodedPositions === undefined ? undefined : decodeResumePositions(encodedPositions);
  // One literal with every field (one object shape per upgrade; no spread plus fields).
  return {
    ip: clientIp(req, trustProxyHops),
    origin: req.headers.origin,
    token: header !== undefined ? bearerToken(header) : (offered.token ?? nonEmpty(query.get('token'))),
    reconnectToken: offered.reconnectToken ?? query.get('reconnectToken') ?? undefined,
    refusedCredentials: offered.refused,
    positions,
    refusedPositions: encodedPositions !== undefined && positions === undefined ? 'malformed resume positions' : undefined,
  };
}

/** The credentials a `Sec-WebSocket-Protocol` header carries, or why they cannot be used. */
export interface SubprotocolCredentials {
  token?: string;
  reconnectToken?: string;
  /** The encoded resume positions of a `canvas.pos.<encoded>` entry (not a credential; decoded by the caller). */
  positions?: string;
  /** Set when the entries are unusable as given: the upgrade is refused (401) with this message. */
  refused?: string;
}

/**
 * Parses the credential entries of `Sec-WebSocket-Protocol` (`ws` has already answered 400 to a
 * header that is not a comma-separated list of tokens, or repeats one). Refused:
 * - two entries of one kind (`canvas.auth.A, canvas.auth.B`): "ambiguous credentials"; which one
 *   the client meant is a guess the server does not make;
 * - credential entries without `canvas.v1`: the server could only select a credential entry
 *   (echoing it) or none (every browser and `ws` client then fails the handshake anyway), so the
 *   upgrade is refused before a session is made for a client that cannot use it.
 * Names that are none of ours are ignored (a client may offer other subprotocols too).
 */
export function subprotocolCredentials(header: string | undefined): SubprotocolCredentials {
  if (header === undefined) return {};
  let v1 = false;
  const tokens: string[] = [];
  const reconnectTokens: string[] = [];
  let positions: string | undefined;
  for (const raw of header.split(',')) {
    const name = raw.trim();
    if (name === SUBPROTOCOL) v1 = true;
    else if (name.startsWith(AUTH_SUBPROTOCOL_PREFIX)) tokens.push(name.slice(AUTH_SUBPROTOCOL_PREFIX.length));
    else if (name.startsWith(RESUME_SUBPROTOCOL_PREFIX)) reconnectTokens.push(name.slice(RESUME_SUBPROTOCOL_PREFIX.length));
    else if (name.startsWith(POSITIONS_SUBPROTOCOL_PREFIX)) positions = name.slice(POSITIONS_SUBPROTOCOL_PREFIX.length);
  }
  if (tokens.length > 1 || reconnectTokens.length > 1) return { refused: 'ambiguous credentials' };
  if (tokens.length + reconnectTokens.length > 0 && !v1) return { refused: `credentials in Sec-WebSocket-Protocol need ${SUBPROTOCOL} offered too` };
  const out: SubprotocolCredentials = {};
  const token = nonEmpty(tokens[0]);
  if (token !== undefined) out.token = token;
  if (reconnectTokens[0] !== undefined) out.reconnectToken = reconnectTokens[0];
  if (positions !== undefined) out.positions = positions;
  return out;
}

/**
 * The subprotocol the server selects (ws's `handleProtocols`): exactly `canvas.v1` when offered,
 * else none. Never the first offered name (ws's default), which could be a credential entry.
 */
export function selectSubprotocol(protocols: Set<string>): string | false {
  return protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false;
}

/** The token of an `Authorization: Bearer <token>` header; `''` (refused as invalid) for any other form. */
export function bearerToken(header: string): string {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

/** The parameters of a query string this module reads (first value of a name; null when absent). */
interface QueryParams {
  get(name: string): string | null;
}

const NO_QUERY: QueryParams = { get: () => null };

/**
 * The first value of each parameter of a query without escapes (no `%`, no `+`), where
 * URLSearchParams's decoding would change nothing: one scan, no object per parameter.
 */
class PlainQuery implements QueryParams {
  constructor(private readonly query: string) {}

  get(name: string): string | null {
    const q = this.query;
    let start = 0;
    while (start <= q.length) {
      let end = q.indexOf('&', start);
      if (end < 0) end = q.length;
      const eq = q.indexOf('=', start);
      const keyEnd = eq < 0 || eq > end ? end : eq;
      if (keyEnd - start === name.length && q.startsWith(name, start)) return keyEnd === end ? '' : q.slice(keyEnd + 1, end);
      start = end + 1;
    }
    return null;
  }
}

/**
 * The query of a request target, read only when there is one (the path needs no parsing: the
 * adapter matched it already). Decoded exactly as `new URL(...).searchParams` does: a query with
 * escapes goes through URLSearchParams, one without is scanned as it is (the usual `?token=<jwt>`:
 * a JWT is base64url and dots).
 */
function queryOf(url: string | undefined): QueryParams {
  const q = url === undefined ? -1 : url.indexOf('?');
  if (q < 0) return NO_QUERY;
  const hash = url!.indexOf('#', q);
  const query = hash < 0 ? url!.slice(q + 1) : url!.slice(q + 1, hash);
  return /[%+]/.test(query) ? new URLSearchParams(query) : new PlainQuery(query);
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

/** A path that `new URL` returns unchanged: no dot segments, escapes, backslashes or `//`. */
const PLAIN_PATH = /^\/[A-Za-z0-9_~/-]*$/;

/**
 * The path of an upgrade request as the WHATWG URL parser gives it (what Nest matches gateways
 * by). A plain path is taken as it is; anything else goes through `new URL`. Throws on a URL
 * that cannot be parsed.
 */
export function upgradePathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const end = url.search(/[?#]/);
  const raw = end < 0 ? url : url.slice(0, end);
  if (PLAIN_PATH.test(raw) && !raw.includes('//')) return raw;
  return new URL(url, `ws://${req.headers.host ?? 'localhost'}/`).pathname;
}
