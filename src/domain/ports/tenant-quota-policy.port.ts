/** A tenant's own limits (a plan); a field left out (or invalid) takes the module's default. */
export interface TenantQuota {
  /** Open connections the whole tenant may hold across the cluster; 0 = no cap. Default `maxConnectionsPerTenant`. */
  maxConnections?: number;
  /** Distinct users per room of this tenant, enforced cluster-wide. Default `roomCapacity`. */
  roomCapacity?: number;
}

/**
 * Per-tenant limits from the host app (a paid plan with bigger rooms than a free one). A host
 * provides its own class through `ConnectionManagerModule.forRoot({ …, tenantQuotaPolicy:
 * MyPolicy, tenantQuotaPolicyImports: [ModuleExportingItsDependencies] })` (or
 * `forRootAsync`); it is instantiated inside the module, with DI, like `canvasAccessPolicy`.
 * It may be async (e.g. read the tenant's plan from a database).
 *
 * Answers are cached per tenant for `tenantQuotaCacheMs` (default 60000; at most 10000 tenants,
 * least recently used first out), so a plan change takes effect within that time. A policy that
 * throws, rejects, answers nothing within 2 s or answers invalid numbers is logged and its
 * tenant gets the module defaults (cached for at most 5 s before the policy is asked again):
 * a broken policy never refuses everyone and never crashes the process.
 */
export interface TenantQuotaPolicy {
  quotaFor(tenantId: string): TenantQuota | Promise<TenantQuota>;
}

/** Injection token of the optional {@link TenantQuotaPolicy}. */
export const TenantQuotaPolicy = Symbol('TenantQuotaPolicy');
