import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Compact JWS as jws (jsonwebtoken's parser) accepts it: three base64url parts, the last may be
 * empty. The same language as jws's pattern, written without its lazy quantifiers (linear).
 */
const JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;
/** Headers already decoded (all tokens of one issuer share a few): encoded header → its allowed HS* alg, or null. */
const MAX_KNOWN_HEADERS = 16;
const HASHES: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** A verification failure, named like jsonwebtoken's errors (`TokenExpiredError`, `NotBeforeError`, `JsonWebTokenError`). */
export class JwtVerifyError extends Error {
  constructor(
    override readonly name: 'TokenExpiredError' | 'NotBeforeError' | 'JsonWebTokenError',
    message: string,
  ) {
    super(message);
  }
}

export interface HmacJwtOptions {
  /** The allow-list; only its HS* entries are verified here. */
  algorithms: readonly string[];
  issuer?: string | undefined;
  audience?: string | undefined;
  clockToleranceS: number;
}

/**
 * The HS256/384/512 verification of jsonwebtoken (what @nestjs/jwt runs), with the same rules
 * and the same outcome, without its per-call overhead: the HMAC is computed over the prebuilt
 * `KeyObject`, the header and claims are decoded once, no options object, callback or error
 * is built on the way. The connect profile showed jsonwebtoken's wrapping at ~5 % of the
 * server's CPU per connection; this is what the benchmark floor does (bench/baselines/auth.mjs).
 *
 * It only takes tokens whose header is an object naming an allowed HS* algorithm, with a
 * signature and a JSON object as claims; for anything else {@link verify} returns undefined
 * and the caller verifies with jsonwebtoken, so every odd input gets jsonwebtoken's own answer
 * (src/ws/hmac-jwt-verifier.spec.ts checks both agree on generated and mutated tokens).
 * Rules, as jsonwebtoken's: the signature must be the exact base64url of the HMAC
 * (timing-safe compare); `nbf` and `exp`, when present, must be numbers, with `clockToleranceS`
 * of leeway (`exp` is required by the caller, not here); `aud` (a string or an array, one match
 * suffices) and `iss` are checked when configured.
 */
export class HmacJwtVerifier {
  private readonly allowed: ReadonlySet<string>;
  /** Bounded memo of decoded headers: a header string always decodes to the same answer. */
  private readonly knownHeaders = new Map<string, string | null>();

  constructor(
    private readonly key: KeyObject,
    private readonly options: HmacJwtOptions,
  ) {
    this.allowed = new Set(options.algorithms.filter((a) => a in HASHES));
  }

  /** The claims of a valid token; throws {@link JwtVerifyError}; undefined when the token is not one this verifier takes. */
  verify(token: string): Record<string, unknown> | undefined {
    if (this.allowed.size === 0 || !JWS.test(token)) return undefined;
    const d1 = token.indexOf('.');
    const d2 = token.indexOf('.', d1 + 1);
    const alg = this.headerAlg(token.slice(0, d1));
    if (alg === undefined || d2 === token.length - 1) return undefined;
    const claims = this.claims(token.slice(d1 + 1, d2));
    if (claims === undefined) return undefined;
    const expected = createHmac(HASHES[alg]!, this.key).update(token.slice(0, d2)).digest('base64url');
    const given = token.slice(d2 + 1);
    if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) {
      throw new JwtVerifyError('JsonWebTokenError', 'invalid signature');
    }
    this.checkClaims(claims);
    return claims;
  }

  /** The header's alg when the header is a JSON object naming an allowed HS* algorithm. */
  private headerAlg(encoded: string): string | undefined {
    const known = this.knownHeaders.get(encoded);
    if (known !== undefined) return known ?? undefined;
    const alg = this.decodeHeaderAlg(encoded);
    if (this.knownHeaders.size < MAX_KNOWN_HEADERS) this.knownHeaders.set(encoded, alg ?? null);
    return alg;
  }

  private decodeHeaderAlg(encoded: string): string | undefined {
    let header: unknown;
    try {
      // latin1, as jws decodes it.
      header = JSON.parse(Buffer.from(encoded, 'base64url').toString('latin1'));
    } catch {
      return undefined;
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
    const { alg, typ } = header as { alg?: unknown; typ?: unknown };
    // typ JWT makes jws parse the claims strictly; leave that variant of bad claims to jsonwebtoken too.
    if (typeof alg !== 'string' || !this.allowed.has(alg) || (typ !== undefined && typ !== 'JWT')) return undefined;
    return alg;
  }

  private claims(encoded: string): Record<string, unknown> | undefined {
    try {
      const claims: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
      return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  private checkClaims(claims: Record<string, unknown>): void {
    const now = Math.floor(Date.now() / 1000);
    const { clockToleranceS, audience, issuer } = this.options;
    const { nbf, exp } = claims;
    if (nbf !== undefined) {
      if (typeof nbf !== 'number') throw new JwtVerifyError('JsonWebTokenError', 'invalid nbf value');
      if (nbf > now + clockToleranceS) throw new JwtVerifyError('NotBeforeError', 'jwt not active');
    }
    if (exp !== undefined) {
      if (typeof exp !== 'number') throw new JwtVerifyError('JsonWebTokenError', 'invalid exp value');
      if (now >= exp + clockToleranceS) throw new JwtVerifyError('TokenExpiredError', 'jwt expired');
    }
    if (audience) {
      const targets: unknown[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!targets.includes(audience)) throw new JwtVerifyError('JsonWebTokenError', 'jwt audience invalid');
    }
    if (issuer && claims.iss !== issuer) throw new JwtVerifyError('JsonWebTokenError', 'jwt issuer invalid');
  }
}
