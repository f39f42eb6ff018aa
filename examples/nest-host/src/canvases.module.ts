import { Injectable, Module } from '@nestjs/common';

/** The host's own data: which canvases exist. A real app asks its database. */
@Injectable()
export class CanvasDirectory {
  private readonly archived = new Set<string>(['old-board']);

  async isArchived(tenantId: string, canvasId: string): Promise<boolean> {
    return this.archived.has(canvasId) || this.archived.has(`${tenantId}/${canvasId}`);
  }
}

@Module({ providers: [CanvasDirectory], exports: [CanvasDirectory] })
export class CanvasesModule {}
