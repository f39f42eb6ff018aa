import type { Identity } from '../connections/identity.js';

/**
 * Decides whether a user may join a canvas. A host app provides its own class through
 * `ConnectionManagerModule.forRoot({ …, canvasAccessPolicy: MyPolicy, canvasAccessPolicyImports:
 * [ModuleExportingItsDependencies] })` (or `forRootAsync`); it is instantiated inside the module,
 * so its dependencies come from those imports or from global modules. It may be async (e.g. look
 * the canvas up in a database).
 * Rooms are tenant-scoped whatever the policy says: a policy can only narrow access.
 * A policy that throws or rejects is treated as "no" (FORBIDDEN) and logged.
 */
export interface CanvasAccessPolicy {
  canJoin(identity: Identity, canvasId: string): boolean | Promise<boolean>;
}

/** Injection token of the {@link CanvasAccessPolicy}. */
export const CanvasAccessPolicy = Symbol('CanvasAccessPolicy');
