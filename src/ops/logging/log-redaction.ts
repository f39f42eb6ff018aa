/**
 * Keeping credentials out of log lines. Tokens reach a server in four places: the
 * `Authorization` header, the `Sec-WebSocket-Protocol` header (`canvas.auth.<jwt>`,
 * `canvas.resume.<token>`: how browsers send them without a URL), the `token` /
 * `reconnectToken` query parameters, and fields named `token` in frames and objects. All four are
 * covered here, plus a last line of defence for free text (messages, error messages and
 * stacks) that might quote a URL, a `Bearer …` header or a bare JWT.
 */

export const REDACTED = '[REDACTED]';

/** Query parameters whose values are credentials (matched case-insensitively). */
export const SECRET_QUERY_PARAMS: readonly string[] = ['token', 'reconnectToken', 'access_token'];
const SECRET_PARAM_SET = new Set(SECRET_QUERY_PARAMS.map((p) => p.toLowerCase()));

/**
 * pino `redact` paths (fast-redact syntax): credential headers, and `token`-like keys at the
 * top level and up to two levels down (`{ token }`, `{ frame: { token } }`, `{ a: { b: { token } } }`).
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["sec-websocket-protocol"]',
  'res.headers["set-cookie"]',
  ...['authorization', 'cookie', 'token', 'reconnectToken', 'accessToken', 'access_token', 'refreshToken', 'jwt', 'password', 'secret'].flatMap((key) => [
    key,
    `*.${key}`,
    `*.*.${key}`,
  ]),
];

/**
 * Replaces the values of {@link SECRET_QUERY_PARAMS} in a URL or path (`/ws?token=abc&x=1` →
 * `/ws?token=[REDACTED]&x=1`). Parameter names are compared after percent-decoding, so
 * `%74oken=` is caught too. Anything after `#` is dropped (never sent to servers anyway).
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const noHash = hash >= 0 ? url.slice(0, hash) : url;
  const q = noHash.indexOf('?');
  if (q < 0) return noHash;
  const query = noHash
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq >= 0 ? pair.slice(0, eq) : pair;
      return SECRET_PARAM_SET.has(safeDecode(rawName).toLowerCase()) ? `${rawName}=${REDACTED}` : pair;
    })
    .join('&');
  return `${noHash.slice(0, q)}?${query}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

const QUERY_SECRET_IN_TEXT = new RegExp(`(^|[^A-Za-z0-9_])((?:${SECRET_QUERY_PARAMS.join('|')})=)[^&\\s"'#<>]+`, 'gi');
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
/** Three base64url parts, the first one a JSON object (`eyJ` = `{"`): what a JWT looks like. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/**
 * A credential entry of `Sec-WebSocket-Protocol` (`canvas.auth.<jwt>`, `canvas.resume.<token>`)
 * quoted in text, e.g. the header's value in an error message. The value runs to the next
 * character that cannot be in a subprotocol token (a comma, a space, a quote).
 */
const SUBPROTOCOL_CREDENTIAL = /\b(canvas\.(?:auth|resume)\.)[A-Za-z0-9!#$%&'*+.^_`|~-]+/g;

/** Scrubs credentials out of free text: `token=…` in quoted URLs, `Bearer …`, subprotocol credential entries, bare JWTs. */
export function scrubText(text: string): string {
  if (text.length === 0) return text;
  return text
    .replace(QUERY_SECRET_IN_TEXT, `$1$2${REDACTED}`)
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(SUBPROTOCOL_CREDENTIAL, `$1${REDACTED}`)
    .replace(JWT, REDACTED);
}
