// JWT verification shared by the baselines. The secret becomes a crypto
// KeyObject once at start-up, so no verify pays for key import.
//
// Two verifiers doing the same checks (HS256 only, signature, exp required,
// nbf when present, sub and tenantId non-empty strings):
//   'crypto'       node:crypto HMAC-SHA256 over the KeyObject + timingSafeEqual,
//                  the claims JSON parsed once; the header is checked once per
//                  distinct header string (all tokens of one issuer share it).
//   'jsonwebtoken' jsonwebtoken.verify(token, KeyObject, { algorithms: ['HS256'] }).
// bench/micro/jwt-verify.mjs measures both; the baselines use the cheaper one
// ('crypto': 4.7 vs 11 µs per verify when last measured on
// the 2-core bench machine) unless BENCH_JWT_IMPL says
// otherwise. The choice is the floor's, not a claim about the product.
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import jwt from 'jsonwebtoken';

const MAX_GOOD_HEADERS = 8; // memo of validated header strings, bounded

function identity(c) {
  if (c === null || typeof c !== 'object') return null;
  if (typeof c.sub !== 'string' || c.sub === '' || typeof c.tenantId !== 'string' || c.tenantId === '') return null;
  return { userId: c.sub, tenantId: c.tenantId, name: typeof c.name === 'string' ? c.name : c.sub };
}

function cryptoVerifier(key) {
  const goodHeaders = new Set();
  const headerOk = (h) => {
    if (goodHeaders.has(h)) return true;
    let header;
    try { header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')); } catch { return false; }
    // alg pinned to HS256: 'none' and every other family are refused.
    if (header === null || header.alg !== 'HS256' || (header.typ !== undefined && header.typ !== 'JWT')) return false;
    if (goodHeaders.size < MAX_GOOD_HEADERS) goodHeaders.add(h);
    return true;
  };
  return function verify(token) {
    if (typeof token !== 'string') return null;
    const d1 = token.indexOf('.');
    const d2 = d1 > 0 ? token.indexOf('.', d1 + 1) : -1;
    if (d2 < 0 || token.indexOf('.', d2 + 1) !== -1) return null;
    if (!headerOk(token.slice(0, d1))) return null;
    const given = Buffer.from(token.slice(d2 + 1), 'base64url');
    if (given.length !== 32) return null;
    const expected = createHmac('sha256', key).update(token.slice(0, d2)).digest();
    if (!timingSafeEqual(expected, given)) return null;
    let c;
    try { c = JSON.parse(Buffer.from(token.slice(d1 + 1, d2), 'base64url').toString('utf8')); } catch { return null; }
    const now = Date.now() / 1000;
    if (typeof c?.exp !== 'number' || c.exp <= now) return null;
    if (c.nbf !== undefined && (typeof c.nbf !== 'number' || c.nbf > now)) return null;
    return identity(c);
  };
}

function jsonwebtokenVerifier(key) {
  return function verify(token) {
    if (typeof token !== 'string' || token.length === 0) return null;
    try {
      const c = jwt.verify(token, key, { algorithms: ['HS256'] });
      // jsonwebtoken accepts a token without exp; the product requires one.
      return typeof c.exp === 'number' ? identity(c) : null;
    } catch {
      return null;
    }
  };
}

export const JWT_IMPLS = { crypto: cryptoVerifier, jsonwebtoken: jsonwebtokenVerifier };

/** @returns {(token: string) => ({userId, tenantId, name} | null)} */
export function makeVerifier(secret, impl = process.env.BENCH_JWT_IMPL || 'crypto') {
  if (!secret) throw new Error('JWT_SECRET is required');
  if (!JWT_IMPLS[impl]) throw new Error(`BENCH_JWT_IMPL: unknown "${impl}" (${Object.keys(JWT_IMPLS).join(', ')})`);
  return JWT_IMPLS[impl](createSecretKey(Buffer.from(secret)));
}

/**
 * Token from `?token=` (what browsers and the generator use) or
 * `Authorization: Bearer`. A plain scan instead of URLSearchParams: JWTs are
 * base64url plus dots, so they only need decoding when a client escaped them.
 */
export function tokenFromRequest(req) {
  const url = req.url;
  const q = url.indexOf('?');
  if (q >= 0) {
    let at = url.indexOf('token=', q + 1);
    while (at > 0 && url[at - 1] !== '?' && url[at - 1] !== '&') at = url.indexOf('token=', at + 6);
    if (at > 0) {
      const end = url.indexOf('&', at);
      const t = url.slice(at + 6, end < 0 ? url.length : end);
      if (t) return t.includes('%') ? decodeURIComponent(t) : t;
    }
  }
  const h = req.headers.authorization;
  return h && h.startsWith('Bearer ') ? h.slice(7) : null;
}
