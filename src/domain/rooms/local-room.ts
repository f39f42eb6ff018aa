import type { ClientConnection } from '../connections/client-connection.js';

/** The connections of one room that live on this instance: what local fan-out iterates. */
export class LocalRoom {
  readonly connections = new Set<ClientConnection>();
  constructor(
    /** Tenant-scoped internal key (see roomKey). */
    readonly key: string,
    readonly tenantId: string,
    readonly canvasId: string,
    /** `canvas:{canvasId}`, as clients see it. */
    readonly wireId: string,
  ) {}
}
