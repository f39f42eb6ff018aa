import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { CONNECTION_MANAGER_OPTIONS } from '../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import { AuthError } from '../domain/connections/auth-error.js';
import type { Identity } from '../domain/connections/identity.js';
import type { TokenVerifier } from '../domain/ports/token-verifier.port.js';
import { HmacJwtVerifier } from './hmac-jwt-verifier.js';

/** Injection token of the JwtService this module verifies with (never the host app's). */
export const CONNECTION_MANAGER_JWT = Symbol('CONNECTION_MANAGER_JWT');

/** `\n` escapes become real newlines, so a PEM fits in one env line. */
function normalizePem(pem: string): string {
  return pem.includes('\\n') ? pem.replace(/\\n/g, '\n') : pem;
}

function headerAlg(token: string): string {
  const dot = token.indexOf('.');
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : '';
  } catch {
    return '';
  }
}

/**
 * Builds the JwtService from pre-built KeyObjects: jsonwebtoken then skips parsing the key on
 * every verify (about 45x faster than a string secret). With both HS* and asymmetric algorithms
 * allowed, the key is picked by the token's `alg` family; jsonwebtoken still refuses a secret
 * key for RS, PS or ES algorithms and a public key for HS ones, which defeats algorithm confusion.
 */
export function createConnectionManagerJwtService(options: ResolvedConnectionManagerOptions): JwtService {
  const { jwt } = options;
  const secret: KeyObject | undefined = jwt.secret ? createSecretKey(Buffer.from(jwt.secret, 'utf8')) : undefined;
  const publicKey: KeyObject | undefined = jwt.publicKey ? createPublicKey(normalizePem(jwt.publicKey)) : undefined;
  const verifyOptions = {
    algorithms: jwt.algorithms,
    issuer: jwt.issuer,
    audience: jwt.audience,
    clockTolerance: jwt.clockToleranceS,
  };
  if (secret && publicKey) {
    return new JwtService({
      verifyOptions,
      secretOrKeyProvider: (_type: unknown, token: unknown) => (headerAlg(String(token)).startsWith('HS') ? secret : publicKey),
    });
  }
  return new JwtService({ verifyOptions, secret: (secret ?? publicKey) as unknown as string });
}

/**
 * Verifies JWTs into {@link Identity}s: signature with an allowed algorithm (`none` never is),
 * `exp` required, `iss`/`aud` when configured, `sub` and the tenant claim non-empty strings.
 * Error messages are generic on purpose: they never echo the token or library internals.
 */
@Injectable()
export class JwtAuthenticator implements TokenVerifier {
  private readonly tenantClaim: string;
  private readonly hmac: HmacJwtVerifier | undefined;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) options: ResolvedConnectionManagerOptions,
    @Inject(CONNECTION_MANAGER_JWT) private readonly jwt: JwtService,
  ) {
    this.tenantClaim = options.jwt.tenantClaim;
    const { secret, algorithms, issuer, audience, clockToleranceS } = options.jwt;
    // HS* tokens: the same checks as jsonwebtoken's without its per-call overhead; any other
    // token (asymmetric, or odd enough that only jsonwebtoken's own answer will do) goes to it.
    this.hmac = secret ? new HmacJwtVerifier(createSecretKey(Buffer.from(secret, 'utf8')), { algorithms, issuer, audience, clockToleranceS }) : undefined;
  }

  /** Returns the identity of a valid token; throws {@link AuthError} otherwise. */
  verify(token: string | undefined): Identity {
    if (!token) throw new AuthError('missing credentials');
    let claims: Record<string, unknown>;
    try {
      claims = this.hmac?.verify(token) ?? this.jwt.verify<Record<string, unknown>>(token);
    } catch (err) {
      const name = (err as Error).name;
      throw new AuthError(name === 'TokenExpiredError' ? 'token expired' : name === 'NotBeforeError' ? 'token not yet valid' : 'invalid token');
    }
    const { sub, exp, name, canvases } = claims;
    const tenantId = claims[this.tenantClaim];
    if (typeof sub !== 'string' || sub.length === 0) throw new AuthError('token has no sub');
    if (typeof tenantId !== 'string' || tenantId.length === 0) throw new AuthError(`token has no ${this.tenantClaim}`);
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new AuthError('token has no exp');
    if (canvases !== undefined && !(Array.isArray(canvases) && canvases.every((c) => typeof c === 'string'))) {
      throw new AuthError('canvases claim must be an array of strings');
    }
    // One literal with every field (absent ones undefined): one object shape for all
    // identities, no out-of-object property store per connection.
    return {
      userId: sub,
      tenantId,
      name: typeof name === 'string' && name.length > 0 ? name : undefined,
      canvases: canvases,
      expiresAt: exp * 1000,
    };
  }
}
