/** A credential that failed verification. `message` is safe to show to the client (never the token). */
export class AuthError extends Error {
  override readonly name = 'AuthError';
}
