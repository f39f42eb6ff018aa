import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { createHmac, createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HmacJwtVerifier } from './hmac-jwt-verifier.js';

const SECRET = 'hmac-verifier-spec-secret-long-enough';
const key = createSecretKey(Buffer.from(SECRET));
const options = { algorithms: ['HS256', 'HS384'], issuer: 'iss-1', audience: 'aud-1', clockToleranceS: 2 };
const verifier = new HmacJwtVerifier(key, options);

type Outcome = { ok: true; claims: unknown } | { ok: false; name: string };

/** What jsonwebtoken (through @nestjs/jwt's options) answers. */
function reference(token: string): Outcome {
  try {
    return { ok: true, claims: jwt.verify(token, key, { algorithms: ['HS256', 'HS384'], issuer: 'iss-1', audience: 'aud-1', clockTolerance: 2 }) };
  } catch (err) {
    return { ok: false, name: (err as Error).name };
  }
}

let fastPath = 0;
/** What the authenticator does: the fast verifier, jsonwebtoken for what it does not take. */
function candidate(token: string): Outcome {
  try {
    const claims = verifier.verify(token);
    if (claims !== undefined) {
      fastPath++;
      return { ok: true, claims };
    }
  } catch (err) {
    fastPath++;
    return { ok: false, name: (err as Error).name };
  }
  return reference(token);
}

const now = () => Math.floor(Date.now() / 1000);
const claimsArb = fc.record(
  {
    sub: fc.oneof(fc.string(), fc.constant('u1')),
    exp: fc.oneof(
      fc.integer({ min: -10, max: 10 }).map((d) => now() + d),
      fc.constant('soon'),
      fc.double(),
    ),
    nbf: fc.oneof(
      fc.integer({ min: -10, max: 10 }).map((d) => now() + d),
      fc.constant(null),
    ),
    iss: fc.constantFrom('iss-1', 'iss-2'),
    aud: fc.oneof(fc.constantFrom('aud-1', 'aud-2'), fc.constant(['x', 'aud-1']), fc.constant([])),
    tenantId: fc.string(),
  },
  { requiredKeys: [] },
);
const tokenArb = fc
  .record({
    claims: claimsArb,
    alg: fc.constantFrom('HS256', 'HS384', 'HS512'),
    secret: fc.constantFrom(SECRET, 'another-secret-another-secret-another'),
    typ: fc.constantFrom(undefined, 'JWT', 'jwt'),
  })
  .map(({ claims, alg, secret, typ }) => sign(typ === undefined ? { alg } : { alg, typ }, claims, secret));

/** Signs by hand, so claims jsonwebtoken's own signer would refuse (an `exp` that is a string) can be made. */
function sign(header: object, claims: object, secret: string): string {
  const body = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const alg = (header as { alg: string }).alg;
  const hash = alg === 'HS512' ? 'sha512' : alg === 'HS384' ? 'sha384' : 'sha256';
  return `${body}.${createHmac(hash, secret).update(body).digest('base64url')}`;
}
/** Damage the way attackers and broken clients do: flip a character, cut a part, swap parts, alg none. */
const mutated = fc
  .tuple(tokenArb, fc.nat(), fc.constantFrom('flip', 'cut-signature', 'drop-part', 'none', 'garbage-claims', 'as-is'))
  .map(([token, n, how]) => {
    const [h, p, s] = token.split('.') as [string, string, string];
    switch (how) {
      case 'flip': {
        const i = n % token.length;
        return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
      }
      case 'cut-signature':
        return `${h}.${p}.`;
      case 'drop-part':
        return `${h}.${p}`;
      case 'none':
        return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
      case 'garbage-claims':
        return `${h}.${Buffer.from('not json').toString('base64url')}.${s}`;
      default:
        return token;
    }
  });

describe('HmacJwtVerifier: the same answer as jsonwebtoken', () => {
  it('agrees with jsonwebtoken on generated and damaged tokens (accept with the same claims, or refuse with the same error)', () => {
    fastPath = 0;
    fc.assert(
      fc.property(mutated, (token) => {
        expect(candidate(token)).toEqual(reference(token));
      }),
      { numRuns: 3000 },
    );
    // It must actually answer a good share itself (the rest: HS512, typ "jwt", no signature,
    // odd headers, which it leaves to jsonwebtoken), or this proves nothing about it.
    expect(fastPath).toBeGreaterThan(200);
  });

  it('refuses a token signed with another secret, an expired one and one not yet valid, by name', () => {
    const sign = (claims: object, secret = SECRET) => jwt.sign({ iss: 'iss-1', aud: 'aud-1', ...claims }, secret, { noTimestamp: true });
    expect(() => verifier.verify(sign({ exp: now() + 60 }, 'wrong-secret-wrong-secret-wrong'))).toThrow(expect.objectContaining({ name: 'JsonWebTokenError' }));
    expect(() => verifier.verify(sign({ exp: now() - 3 }))).toThrow(expect.objectContaining({ name: 'TokenExpiredError' }));
    expect(() => verifier.verify(sign({ exp: now() + 60, nbf: now() + 10 }))).toThrow(expect.objectContaining({ name: 'NotBeforeError' }));
    expect(verifier.verify(sign({ exp: now() + 60, sub: 'ann' }))).toMatchObject({ sub: 'ann' });
    // The edges of clockToleranceS (2 s), as jsonwebtoken draws them: exp + 2 = now is expired, nbf - 2 = now is active.
    expect(() => verifier.verify(sign({ exp: now() - 2 }))).toThrow(expect.objectContaining({ name: 'TokenExpiredError' }));
    expect(verifier.verify(sign({ exp: now() + 60, nbf: now() + 2 }))).toMatchObject({ nbf: expect.any(Number) });
  });

  it('leaves algorithms outside its allow-list to jsonwebtoken (HS512 here; never `none`)', () => {
    const hs512 = jwt.sign({ exp: now() + 60 }, SECRET, { algorithm: 'HS512' });
    expect(verifier.verify(hs512)).toBeUndefined();
    expect(verifier.verify(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.`)).toBeUndefined();
  });
});
