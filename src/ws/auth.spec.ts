import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConnectionManagerOptions, type ConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import { AuthError } from '../domain/connections/auth-error.js';
import { JwtAuthenticator, createConnectionManagerJwtService } from './auth.js';

const SECRET = 'unit-secret-that-is-long-enough-for-hs256';
const now = () => Math.floor(Date.now() / 1000);
const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

function authenticator(jwtOptions: ConnectionManagerOptions['jwt'] = { secret: SECRET }): JwtAuthenticator {
  const options = resolveConnectionManagerOptions({ jwt: jwtOptions });
  return new JwtAuthenticator(options, createConnectionManagerJwtService(options));
}

function sign(claims: Record<string, unknown> = {}, key: jwt.Secret = SECRET, options: jwt.SignOptions = {}): string {
  const payload: Record<string, unknown> = { sub: 'u1', tenantId: 't1', exp: now() + 3600, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  return jwt.sign(payload, key, { algorithm: 'HS256', ...options });
}

function hmacToken(claims: Record<string, unknown>, key: string): string {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 'u1', tenantId: 't1', exp: now() + 3600, ...claims })}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** Runs verify and returns the AuthError it threw (fails when it did not throw one). */
function refusal(auth: JwtAuthenticator, token: string | undefined): AuthError {
  let thrown: unknown;
  try {
    auth.verify(token);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(AuthError);
  const message = (thrown as AuthError).message;
  expect(message).not.toMatch(/\n|node_modules|\.js:\d+/);
  if (token && token.length > 8) expect(message).not.toContain(token);
  return thrown as AuthError;
}

describe('JwtAuthenticator (HS256 with a secret)', () => {
  const auth = authenticator();

  it('turns a valid token into an identity (exp in ms, name and canvases when present)', () => {
    const exp = now() + 600;
    expect(auth.verify(sign({ exp }))).toEqual({ userId: 'u1', tenantId: 't1', expiresAt: exp * 1000 });
    expect(auth.verify(sign({ exp, name: 'Ann', canvases: ['c1'] }))).toEqual({
      userId: 'u1',
      tenantId: 't1',
      expiresAt: exp * 1000,
      name: 'Ann',
      canvases: ['c1'],
    });
    expect(auth.verify(sign({ name: '' })).name).toBeUndefined();
  });

  it('refuses a missing or empty credential', () => {
    refusal(auth, undefined);
    refusal(auth, '');
  });

  it('refuses malformed tokens and tokens signed with another secret', () => {
    for (const token of ['not-a-jwt', 'a.b.c', `${sign()}x`, sign({}, 'another-secret-long-enough-for-hs256')]) refusal(auth, token);
  });

  it('never accepts alg none', () => {
    refusal(auth, `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'u1', tenantId: 't1', exp: now() + 3600 })}.`);
  });

  it('refuses an algorithm outside the allow-list', () => {
    refusal(auth, sign({}, SECRET, { algorithm: 'HS512' }));
    expect(authenticator({ secret: SECRET, algorithms: ['HS512'] }).verify(sign({}, SECRET, { algorithm: 'HS512' })).userId).toBe('u1');
  });

  it('refuses expired tokens and tokens not valid yet; clockToleranceS is the leeway', () => {
    expect(refusal(auth, sign({ exp: now() - 5 })).message).toMatch(/expired/);
    refusal(auth, sign({ nbf: now() + 60 }));
    const lenient = authenticator({ secret: SECRET, clockToleranceS: 30 });
    expect(lenient.verify(sign({ exp: now() - 5 })).userId).toBe('u1');
    expect(lenient.verify(sign({ nbf: now() + 10 })).userId).toBe('u1');
    refusal(lenient, sign({ exp: now() - 120 }));
    refusal(lenient, sign({ nbf: now() + 120 }));
  });

  it('requires exp', () => {
    refusal(auth, sign({ exp: undefined }));
    refusal(auth, hmacToken({ exp: 'soon' }, SECRET));
  });

  it('requires sub and the tenant claim as non-empty strings', () => {
    for (const sub of [undefined, '', 1, null, ['u1']]) refusal(auth, sign({ sub }));
    for (const tenantId of [undefined, '', 1, null, { id: 't1' }]) refusal(auth, sign({ tenantId }));
  });

  it('reads the tenant from a custom tenantClaim', () => {
    const org = authenticator({ secret: SECRET, tenantClaim: 'org' });
    expect(org.verify(sign({ tenantId: undefined, org: 'acme' })).tenantId).toBe('acme');
    expect(refusal(org, sign({ tenantId: 't1' })).message).toContain('org');
  });

  it('refuses a canvases claim that is not an array of strings', () => {
    for (const canvases of ['c1', [1], ['c1', null], {}, true]) refusal(auth, sign({ canvases }));
    expect(auth.verify(sign({ canvases: [] })).canvases).toEqual([]);
  });

  it('checks issuer and audience when configured (aud may be an array, one match suffices)', () => {
    const strict = authenticator({ secret: SECRET, issuer: 'idp', audience: 'rt' });
    expect(strict.verify(sign({ iss: 'idp', aud: 'rt' })).userId).toBe('u1');
    expect(strict.verify(sign({ iss: 'idp', aud: ['x', 'rt'] })).userId).toBe('u1');
    for (const claims of [{ iss: 'evil', aud: 'rt' }, { aud: 'rt' }, { iss: 'idp', aud: 'x' }, { iss: 'idp' }, { iss: 'idp', aud: ['x', 'y'] }]) {
      refusal(strict, sign(claims));
    }
    expect(auth.verify(sign({ iss: 'whoever', aud: 'whatever' })).userId).toBe('u1');
  });
});

describe('JwtAuthenticator (asymmetric keys)', () => {
  let rsa: { publicKey: string; privateKey: string };
  let ec: { publicKey: string; privateKey: string };
  beforeAll(() => {
    rsa = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    ec = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
  });

  it('RS256: a token signed with the private key passes; the PEM may use \\n escapes', () => {
    expect(authenticator({ publicKey: rsa.publicKey, algorithms: ['RS256'] }).verify(sign({}, rsa.privateKey, { algorithm: 'RS256' })).userId).toBe('u1');
    const escaped = authenticator({ publicKey: rsa.publicKey.replace(/\n/g, '\\n'), algorithms: ['RS256'] });
    expect(escaped.verify(sign({}, rsa.privateKey, { algorithm: 'RS256' })).userId).toBe('u1');
  });

  it('RS256: algorithm confusion (HS256 keyed with the PEM public key) is refused', () => {
    const auth = authenticator({ publicKey: rsa.publicKey, algorithms: ['RS256'] });
    refusal(auth, hmacToken({}, rsa.publicKey));
    refusal(auth, sign({}, SECRET));
  });

  it('ES256 with an EC public key', () => {
    const auth = authenticator({ publicKey: ec.publicKey, algorithms: ['ES256'] });
    expect(auth.verify(sign({}, ec.privateKey, { algorithm: 'ES256' })).userId).toBe('u1');
    refusal(auth, sign({}, rsa.privateKey, { algorithm: 'RS256' }));
    refusal(auth, hmacToken({}, ec.publicKey));
  });

  it('HS256 and RS256 both allowed: each verified with its own key, confusion still refused', () => {
    const both = authenticator({ secret: SECRET, publicKey: rsa.publicKey, algorithms: ['HS256', 'RS256'] });
    expect(both.verify(sign({ sub: 'hs' })).userId).toBe('hs');
    expect(both.verify(sign({ sub: 'rs' }, rsa.privateKey, { algorithm: 'RS256' })).userId).toBe('rs');
    refusal(both, hmacToken({}, rsa.publicKey));
  });
});
