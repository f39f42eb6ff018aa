import * as crypto from 'node:crypto';
import { drawRandom } from '../values/entropy-pool.js';

const TOKEN_BYTES = 24;

/** 192 random bits, base64url: unguessable, URL-safe, 32 characters (drawn from the shared entropy pool). */
export function newReconnectToken(): string {
  return drawRandom(TOKEN_BYTES, readToken);
}

const readToken = (pool: Buffer, at: number): string => pool.toString('base64url', at, at + TOKEN_BYTES);

/** One-shot `crypto.hash` (Node ≥ 20.12) when present: no Hash object per call. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

/** Only this hash is stored: a leaked store does not leak usable tokens. */
export function hashReconnectToken(token: string): string {
  return oneShot ? oneShot('sha256', token, 'base64url') : crypto.createHash('sha256').update(token).digest('base64url');
}
