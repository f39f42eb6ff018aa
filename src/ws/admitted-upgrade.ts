import type { IncomingMessage } from 'node:http';
import type { AdmittedUpgrade } from '../domain/connections/admission.types.js';
import type { ConnectionAdmissionService } from '../domain/connections/connection-admission.service.js';

/** Where the accepted upgrade travels from `verifyClient` to `handleConnection` (on the request). */
export const ACCEPTED = Symbol('connectionManager.accepted');
interface PendingUpgrade extends AdmittedUpgrade {
  settled: boolean;
  /** Gives the reserved slots back if the socket dies before the handler takes it over. */
  onEarlyClose: () => void;
}
export type RequestWithUpgrade = IncomingMessage & { [ACCEPTED]?: PendingUpgrade | undefined };

/**
 * The accepted upgrade of a request, consumed once by the connection handler. Taking it also
 * detaches it from the request and the socket: nothing of the upgrade (the request with its
 * URL and token, ws's handshake closures) stays reachable for the connection's lifetime.
 */
export function takeAdmittedUpgrade(req: IncomingMessage): AdmittedUpgrade | undefined {
  const pending = (req as RequestWithUpgrade)[ACCEPTED];
  if (!pending || pending.settled) return undefined;
  pending.settled = true;
  (req as RequestWithUpgrade)[ACCEPTED] = undefined;
  req.socket.removeListener('close', pending.onEarlyClose);
  return pending;
}

/**
 * Built outside `verifyClient`'s callbacks on purpose: a closure made there would keep ws's
 * handshake context (request, head buffer, callbacks) alive for as long as it is registered.
 */
export function pendingUpgrade(upgrade: AdmittedUpgrade, admission: ConnectionAdmissionService): PendingUpgrade {
  const pending: PendingUpgrade = {
    ...upgrade,
    settled: false,
    onEarlyClose: () => {
      if (pending.settled) return;
      pending.settled = true;
      admission.abandon(pending);
    },
  };
  return pending;
}
