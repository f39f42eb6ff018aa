import type { IncomingMessage } from 'node:http';
import type { AdmittedUpgrade } from '../domain/connections/admission.types.js';
import type { ConnectionAdmissionService } from '../domain/connections/connection-admission.service.js';

/** Where the admitted upgrade travels from `verifyClient` to the connection handler (on the request). */
export const ACCEPTED = Symbol('connectionManager.accepted');
interface PendingUpgrade extends AdmittedUpgrade {
  /** Set once the handler took it, or once it was given up. */
  settled: boolean;
}
export type RequestWithUpgrade = IncomingMessage & { [ACCEPTED]?: PendingUpgrade | undefined };

/**
 * The admitted upgrade of a request, consumed once by the connection handler. Taking it also
 * detaches it from the request: nothing of the upgrade (the request with its URL and token,
 * ws's handshake closures) stays reachable for the connection's lifetime.
 */
export function takeAdmittedUpgrade(req: IncomingMessage): AdmittedUpgrade | undefined {
  const pending = (req as RequestWithUpgrade)[ACCEPTED];
  if (!pending || pending.settled) return undefined;
  pending.settled = true;
  (req as RequestWithUpgrade)[ACCEPTED] = undefined;
  return pending;
}

/**
 * Hands an admitted upgrade to ws (`done(true)`) and makes sure its slots are not lost. ws
 * finishes the handshake synchronously inside `done`: either the socket becomes a connection
 * (the `connection` event runs the handler, which takes the upgrade) or ws drops it silently (it
 * died during the admission: a FIN or a reset; or the server is closing). So when `done`
 * returns and nobody took the upgrade, its slots (instance, IP, connection quota) are given
 * back at once: no listener or closure per upgrade is needed for that.
 */
export function completeAdmitted(req: IncomingMessage, upgrade: AdmittedUpgrade, done: () => void, admission: ConnectionAdmissionService): void {
  // Every field written out: one object shape, no runtime map transitions per upgrade (a spread
  // followed by more fields costs those).
  const pending: PendingUpgrade = {
    connectionId: upgrade.connectionId,
    identity: upgrade.identity,
    credentialDeadline: upgrade.credentialDeadline,
    ip: upgrade.ip,
    resume: upgrade.resume,
    positions: upgrade.positions,
    settled: false,
  };
  (req as RequestWithUpgrade)[ACCEPTED] = pending;
  done();
  if (pending.settled) return;
  pending.settled = true;
  (req as RequestWithUpgrade)[ACCEPTED] = undefined;
  admission.abandon(pending);
}
