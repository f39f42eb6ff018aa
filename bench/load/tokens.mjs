// JWTs for the generator's users. Minted before any measured window so signing
// cost never lands in a figure. Claims follow the product's contract.
import jwt from 'jsonwebtoken';
import { createSecretKey } from 'node:crypto';

export const TENANT = 'bench-tenant';

export function makeTokens(secret, count, prefix = 'u') {
  const key = createSecretKey(Buffer.from(secret));
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = jwt.sign({ sub: `${prefix}${i}`, tenantId: TENANT, name: `Bench ${prefix}${i}` }, key, {
      algorithm: 'HS256',
      expiresIn: '2h',
    });
  }
  return out;
}
