/** One connection's slot in its user's and its tenant's connection quota. */
export interface QuotaSlot {
  tenantId: string;
  userId: string;
  connectionId: string;
}

/** A slot asked for, with the caps that apply to it (0 = no cap). */
export interface QuotaRequest extends QuotaSlot {
  /** Open connections one user of the tenant may hold across the cluster; 0 = no cap. */
  userCap: number;
  /** Open connections the whole tenant may hold across the cluster; 0 = no cap. */
  tenantCap: number;
  /**
   * A resume: the connection id the session had. If that connection still holds a slot (a
   * half-open TCP connection about to be taken over), it is not counted against this request,
   * so a user at their cap can always resume their own session.
   */
  replaces?: string;
}

/** Which quota refused; `user` is reported when both are used up (the one the client can act on). */
export type QuotaName = 'user' | 'tenant';

export type QuotaDecision = { ok: true } | { ok: false; exceeded: QuotaName };

/**
 * Counts open connections per user and per tenant, for the connection quotas
 * (`maxConnectionsPerUser`, `maxConnectionsPerTenant`, a TenantQuotaPolicy's `maxConnections`).
 * The in-memory store counts one instance; the Redis store counts the whole cluster.
 *
 * `tryAcquire` must be atomic: check and insert are one step, so concurrent upgrades through
 * any number of instances never exceed a cap. A slot is held from the admission until the
 * connection closes, or until an admitted upgrade turns out never to become a connection.
 *
 * Failure mode: a shared store that cannot reach its back-end counts on its own (this
 * instance's slots only, same caps: the per-instance fallback, counted in `fallbacks` and
 * logged) and re-registers those slots when the back-end answers again; it never rejects.
 */
export interface ConnectionQuotaStore {
  /** Takes a slot unless a cap is reached. Idempotent for a connection id that holds one. */
  tryAcquire(request: QuotaRequest): Promise<QuotaDecision>;
  /** Gives a slot back. Idempotent; never rejects. */
  release(slot: QuotaSlot): Promise<void>;
  /**
   * Cluster mode, called by the cluster coordinator every lease tick: keeps this instance's
   * slots alive until `leaseUntil` (epoch ms; a crashed instance's slots are dropped by the
   * survivors once it is past) and puts back what an outage or a purge lost. No-op in memory.
   */
  renew(leaseUntil: number): Promise<void>;
  /** Clean shutdown: gives back every slot this instance still holds (best effort). */
  releaseAll(): Promise<void>;
  /** Slots counted by the per-instance fallback because the shared back-end did not answer (0 without one). */
  readonly fallbacks: number;
}

/** Injection token of the {@link ConnectionQuotaStore} (same name as the interface). */
export const ConnectionQuotaStore = Symbol('ConnectionQuotaStore');
