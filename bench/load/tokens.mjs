// JWTs for the generator's users. Minted before any measured window so signing
// cost never lands in a figure. Claims follow the product's contract.
import jwt from 'jsonwebtoken';
import { createSecretKey } from 'node:crypto';

export const TENANT = 'bench-tenant';

/** Tokens for users `${prefix}${start}` .. `${prefix}${start + count - 1}`. */
export function makeTokens(secret, count, prefix = 'u', start = 0) {
  const key = createSecretKey(Buffer.from(secret));
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = jwt.sign({ sub: `${prefix}${start + i}`, tenantId: TENANT, name: `Bench ${prefix}${start + i}` }, key, {
      algorithm: 'HS256',
      expiresIn: '2h',
    });
  }
  return out;
}
