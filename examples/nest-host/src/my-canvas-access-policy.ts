import { Injectable } from '@nestjs/common';
import type { CanvasAccessPolicy, Identity } from 'canvas-connection-manager';
import { CanvasDirectory } from './canvases.module.js';

/**
 * Who may join which canvas. Rooms are tenant-scoped whatever it answers; a policy that throws
 * counts as "no" (FORBIDDEN). Instantiated inside ConnectionManagerModule: its dependencies come
 * from `canvasAccessPolicyImports` (or global modules).
 */
@Injectable()
export class MyCanvasAccessPolicy implements CanvasAccessPolicy {
  constructor(private readonly canvases: CanvasDirectory) {}

  async canJoin(identity: Identity, canvasId: string): Promise<boolean> {
    return !(await this.canvases.isArchived(identity.tenantId, canvasId));
  }
}
