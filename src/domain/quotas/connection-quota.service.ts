import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import { ConnectionQuotaStore, type QuotaDecision, type QuotaSlot } from '../ports/connection-quota-store.port.js';
import { TenantQuotas, type ResolvedTenantQuota } from './tenant-quotas.js';

const ADMITTED: QuotaDecision = { ok: true };

/**
 * The connection quotas: at most `maxConnectionsPerUser` (default 20) open connections per
 * user and `maxConnectionsPerTenant` (default 0 = no cap; a TenantQuotaPolicy may set one per
 * tenant) per tenant, counted across the cluster by the {@link ConnectionQuotaStore}. The
 * admission takes a slot once the credentials are proven (a resume counts too); the slot is
 * given back when the connection closes, or when an admitted upgrade never becomes one.
 * With every cap at 0 and no policy, the store is never called.
 */
@Injectable()
export class ConnectionQuotaService {
  private readonly logger = new Logger(ConnectionQuotaService.name);
  private readonly enabled: boolean;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Inject(ConnectionQuotaStore) private readonly store: ConnectionQuotaStore,
    private readonly tenants: TenantQuotas,
  ) {
    this.enabled = options.maxConnectionsPerUser > 0 || options.maxConnectionsPerTenant > 0 || tenants.hasPolicy;
  }

  /**
   * Takes the connection's slot unless its user's or its tenant's cap is reached. `replaces`
   * (a resume) is the session's previous connection, not counted if it still holds a slot.
   */
  acquire(slot: QuotaSlot & { replaces?: string }): Promise<QuotaDecision> {
    if (!this.enabled) return Promise.resolve(ADMITTED);
    // Without a host policy the tenant cap is the module's: no lookup and no extra step for it.
    // A policy that throws rejects the acquire: it never throws synchronously.
    if (this.tenants.hasPolicy) {
      return new Promise<ResolvedTenantQuota>((resolve) => resolve(this.tenants.quotaOf(slot.tenantId))).then((quota) => this.take(slot, quota.maxConnections));
    }
    return this.take(slot, this.options.maxConnectionsPerTenant);
  }

  /** The store's check-and-take (one `then` on its promise, no async wrapper: this is on every connect). */
  private take(slot: QuotaSlot & { replaces?: string }, tenantCap: number): Promise<QuotaDecision> {
    let taken: Promise<QuotaDecision>;
    try {
      // One literal with every field (a spread plus fields is built by runtime transitions per call).
      taken = this.store.tryAcquire({
        tenantId: slot.tenantId,
        userId: slot.userId,
        connectionId: slot.connectionId,
        replaces: slot.replaces,
        userCap: this.options.maxConnectionsPerUser,
        tenantCap,
      });
    } catch (err) {
      return Promise.resolve(this.storeFailed(err));
    }
    return taken.then(undefined, (err: unknown) => this.storeFailed(err));
  }

  /** Stores fall back rather than reject; should one fail anyway, a quota outage must not refuse everyone. */
  private storeFailed(err: unknown): QuotaDecision {
    this.logger.warn(`connection quota store failed, admitting without a quota: ${(err as Error).message}`);
    return ADMITTED;
  }

  /** Gives a slot back (fire and forget: never rejects; a store outage is healed by its resync). */
  release(slot: QuotaSlot): void {
    if (!this.enabled) return;
    this.store.release(slot).catch((err: unknown) => this.logger.warn(`releasing a connection quota slot failed: ${(err as Error).message}`));
  }
}
