import type { Identity } from '../connections/identity.js';
import type { CanvasAccessPolicy } from '../ports/canvas-access-policy.port.js';

/**
 * The default policy: a token with a `canvases` claim may join only those canvases; a token
 * without it may join any canvas of its own tenant.
 */
export class ClaimsCanvasAccessPolicy implements CanvasAccessPolicy {
  canJoin(identity: Identity, canvasId: string): boolean {
    return identity.canvases === undefined || identity.canvases.includes(canvasId);
  }
}
