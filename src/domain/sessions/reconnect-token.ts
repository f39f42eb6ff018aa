import { createHash, randomBytes } from 'node:crypto';

/** 192 random bits, base64url: unguessable, URL-safe, 32 characters. */
export function newReconnectToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Only this hash is stored: a leaked store does not leak usable tokens. */
export function hashReconnectToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
