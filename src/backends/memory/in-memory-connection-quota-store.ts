import type { ConnectionQuotaStore, QuotaDecision, QuotaRequest, QuotaSlot } from '../../domain/ports/connection-quota-store.port.js';

/** Shared answer of an admitted slot (read-only for callers, as every decision). */
const ADMITTED: QuotaDecision = Object.freeze({ ok: true });

/** One tenant's slots: connection → user, and the count per user. */
interface TenantSlots {
  users: Map<string, number>;
  connections: Map<string, string>;
}

/**
 * {@link ConnectionQuotaStore} of one instance: every method completes synchronously inside its
 * promise, so check-and-take is atomic by construction. Entries are deleted as soon as they
 * are empty: memory follows the open connections. Also the Redis store's local mirror (its
 * per-instance fallback and the list of slots it re-registers), hence {@link add} and
 * {@link slotsOf}.
 */
export class InMemoryConnectionQuotaStore implements ConnectionQuotaStore {
  private readonly tenants = new Map<string, TenantSlots>();
  /** Always 0: there is nothing to fall back from. */
  readonly fallbacks = 0;

  async tryAcquire(request: QuotaRequest): Promise<QuotaDecision> {
    return this.take(request);
  }

  /**
   * The synchronous check-and-take behind {@link tryAcquire}. Each map is looked up once (the
   * tenant's connection map holds every open connection of the tenant: on the connect path its
   * lookups showed in the profile, issue 15).
   */
  take(request: QuotaRequest): QuotaDecision {
    const tenant = this.tenants.get(request.tenantId);
    // A tenant with no slot yet: no count can be at a cap (caps are 0 = none, or 1 and more).
    if (tenant === undefined) {
      this.create(request);
      return ADMITTED;
    }
    const connections = tenant.connections;
    if (connections.has(request.connectionId)) return ADMITTED;
    const held = tenant.users.get(request.userId) ?? 0;
    let userCount = held;
    let tenantCount = connections.size;
    const replaced = request.replaces === undefined ? undefined : connections.get(request.replaces);
    if (replaced !== undefined) {
      tenantCount--;
      if (replaced === request.userId) userCount--;
    }
    if (request.userCap > 0 && userCount >= request.userCap) return { ok: false, exceeded: 'user' };
    if (request.tenantCap > 0 && tenantCount >= request.tenantCap) return { ok: false, exceeded: 'tenant' };
    this.put(tenant, request, held);
    return ADMITTED;
  }

  /** Records a slot without any cap check (one admitted before). Idempotent. */
  add(slot: QuotaSlot): void {
    const tenant = this.tenants.get(slot.tenantId);
    if (tenant === undefined) return this.create(slot);
    if (tenant.connections.has(slot.connectionId)) return;
    this.put(tenant, slot, tenant.users.get(slot.userId) ?? 0);
  }

  /** Records a slot not held yet, its user holding `held` slots of the tenant before it. */
  private put(tenant: TenantSlots, slot: QuotaSlot, held: number): void {
    tenant.connections.set(slot.connectionId, slot.userId);
    tenant.users.set(slot.userId, held + 1);
  }

  /** The first slot of a tenant. */
  private create(slot: QuotaSlot): void {
    this.tenants.set(slot.tenantId, { users: new Map([[slot.userId, 1]]), connections: new Map([[slot.connectionId, slot.userId]]) });
  }

  async release(slot: QuotaSlot): Promise<void> {
    this.remove(slot);
  }

  /** The synchronous part of {@link release}; false when the connection held no slot. */
  remove(slot: QuotaSlot): boolean {
    const tenant = this.tenants.get(slot.tenantId);
    const userId = tenant?.connections.get(slot.connectionId);
    if (!tenant || userId === undefined) return false;
    tenant.connections.delete(slot.connectionId);
    const n = (tenant.users.get(userId) ?? 1) - 1;
    if (n <= 0) tenant.users.delete(userId);
    else tenant.users.set(userId, n);
    if (tenant.connections.size === 0) this.tenants.delete(slot.tenantId);
    return true;
  }

  /** Nothing to renew: one process holds every slot. */
  async renew(): Promise<void> {}

  async releaseAll(): Promise<void> {
    this.tenants.clear();
  }

  /** Tenants holding at least one slot. */
  tenantIds(): string[] {
    return [...this.tenants.keys()];
  }

  /** A tenant's slots (connection id, user id). */
  slotsOf(tenantId: string): Array<{ connectionId: string; userId: string }> {
    const tenant = this.tenants.get(tenantId);
    return tenant ? [...tenant.connections].map(([connectionId, userId]) => ({ connectionId, userId })) : [];
  }

  /** Open slots of a user / a tenant (for tests and the Redis store's fallback). */
  countOf(tenantId: string, userId?: string): number {
    const tenant = this.tenants.get(tenantId);
    if (!tenant) return 0;
    return userId === undefined ? tenant.connections.size : (tenant.users.get(userId) ?? 0);
  }
}
