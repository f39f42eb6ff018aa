import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';

/** The options a credential deadline depends on. */
export type DeadlineOptions = Pick<ResolvedConnectionManagerOptions, 'jwt' | 'reauthGraceMs'>;

/**
 * When a JWT stops being usable: `reauth_required` is due at `exp` + `clockToleranceS` (the
 * JWT's last valid moment, as the verifier sees it).
 */
export function tokenExpiry(expiresAt: number, options: DeadlineOptions): number {
  return expiresAt + options.jwt.clockToleranceS * 1000;
}

/**
 * A session's credential deadline, epoch ms: `exp` + `clockToleranceS` + `reauthGraceMs` of the
 * last JWT the session proved (login, reauth, or a JWT given with a resume). It belongs to the
 * session, not to a connection: it is stored with the session and no resume or reconnect moves
 * it, so a client that keeps resuming with its reconnect token alone cannot outlive its JWT by
 * more than one grace. Past it, the session's connection is closed with 4001 and a resume
 * without a fresh JWT is refused (401 "token expired").
 */
export function credentialDeadline(expiresAt: number, options: DeadlineOptions): number {
  return tokenExpiry(expiresAt, options) + options.reauthGraceMs;
}
