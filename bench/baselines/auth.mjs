// JWT verification shared by the baselines. The secret is turned into a
// crypto KeyObject once at start-up so each verify skips key import work
// (jsonwebtoken would otherwise call createSecretKey on every verify).
import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';

export function makeVerifier(secret) {
  if (!secret) throw new Error('JWT_SECRET is required');
  const key = createSecretKey(Buffer.from(secret));
  /** @returns {{userId:string, tenantId:string, name:string}|null} */
  return function verify(token) {
    if (typeof token !== 'string' || token.length === 0) return null;
    try {
      const c = jwt.verify(token, key, { algorithms: ['HS256'] });
      if (typeof c.sub !== 'string' || typeof c.tenantId !== 'string') return null;
      return { userId: c.sub, tenantId: c.tenantId, name: typeof c.name === 'string' ? c.name : c.sub };
    } catch {
      return null;
    }
  };
}

/** Token from `?token=` or `Authorization: Bearer` (the product accepts both). */
export function tokenFromRequest(req) {
  const q = req.url.indexOf('?');
  if (q >= 0) {
    const t = new URLSearchParams(req.url.slice(q + 1)).get('token');
    if (t) return t;
  }
  const h = req.headers.authorization;
  return h && h.startsWith('Bearer ') ? h.slice(7) : null;
}
