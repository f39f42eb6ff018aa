import type { Identity } from '../connections/identity.js';

/**
 * Turns a credential (a compact JWT) into an {@link Identity}. The transport's JWT
 * authenticator implements it (src/ws/auth.ts); the domain only sees this interface.
 *
 * Contract: `verify` returns the identity of a valid credential and throws an `AuthError`
 * (src/domain/connections/auth-error.ts) whose message is safe to show to the client
 * otherwise; an undefined or empty credential throws `AuthError('missing credentials')`.
 */
export interface TokenVerifier {
  verify(token: string | undefined): Identity;
}

/** Injection token of the {@link TokenVerifier}. */
export const TokenVerifier = Symbol('TokenVerifier');
