import { Logger } from '@nestjs/common';
import type { ConnectionQuotaStore, QuotaDecision, QuotaRequest, QuotaSlot } from '../../domain/ports/connection-quota-store.port.js';
import { InMemoryConnectionQuotaStore } from '../memory/in-memory-connection-quota-store.js';
import { QUOTA_ACQUIRE_LUA, QUOTA_RELEASE_LUA, QUOTA_RESYNC_LUA } from './connection-quota.lua.js';
import type { RedisClient } from './redis-connections.js';

type Keys = [conns: string, users: string, insts: string, leases: string];
type Scripted = RedisClient & {
  cmQuotaAcquire(...args: [...Keys, ...(string | number)[]]): Promise<[number, string?]>;
  cmQuotaRelease(...args: [...Keys, string]): Promise<number>;
  cmQuotaResync(...args: [...Keys, ...(string | number)[]]): Promise<number>;
};

/** Keys of one tenant's quota share a hash slot (`{…}`), so one script can touch them all on a cluster. */
export function quotaKeys(prefix: string, tenantId: string): Keys {
  const tag = `${prefix}:{quota@${encodeURIComponent(tenantId)}}`;
  return [`${tag}:conns`, `${tag}:users`, `${tag}:insts`, `${tag}:leases`];
}

/**
 * {@link ConnectionQuotaStore} across the cluster. Per tenant (`cm:{quota@<tenant>}:…`, see
 * connection-quota.lua.ts): each slot records its holder instance, and each holder has a
 * lease in the tenant (a sorted-set score) that it renews every lease tick (the cluster
 * coordinator calls {@link renew}). A killed instance never gives its slots back: once its lease
 * is past, the next acquire in the tenant drops them, so nothing leaks for longer than
 * `instanceLeaseMs` (15 s by default) and no global index of tenants is needed. Leases compare
 * the instances' clocks: skew must stay well under a third of the lease (as for the instance
 * registry).
 *
 * While Redis does not answer, the store counts this instance's slots on its own (same caps,
 * against its local slots only), says so (a warning when it starts and when Redis answers
 * again; `fallbacks` is exported as a metric), and marks the tenant: the next renew makes
 * Redis hold exactly this instance's live slots again (adding the fallback's, dropping those
 * whose release was lost). An acquire that runs while that resync runs may be dropped from
 * Redis (under-counted by one until it closes): only after an outage or a stall.
 */
export class RedisConnectionQuotaStore implements ConnectionQuotaStore {
  private readonly logger = new Logger(RedisConnectionQuotaStore.name);
  private readonly redis: Scripted;
  private readonly prefix: string;
  private readonly instanceId: string;
  private readonly leaseMs: number;
  /** This instance's slots: what the fallback counts and what a resync re-registers. */
  private readonly local = new InMemoryConnectionQuotaStore();
  /** Tenants whose slots in Redis may differ from `local` (a write was lost): resynced at the next renew. */
  private readonly dirty = new Set<string>();
  private fallingBack = false;
  /** Upgrades counted by the per-instance fallback because Redis did not answer. */
  fallbacks = 0;

  constructor(options: { redis: RedisClient; keyPrefix: string; instanceId: string; leaseMs: number }) {
    options.redis.defineCommand('cmQuotaAcquire', { numberOfKeys: 4, lua: QUOTA_ACQUIRE_LUA });
    options.redis.defineCommand('cmQuotaRelease', { numberOfKeys: 4, lua: QUOTA_RELEASE_LUA });
    options.redis.defineCommand('cmQuotaResync', { numberOfKeys: 4, lua: QUOTA_RESYNC_LUA });
    this.redis = options.redis as Scripted;
    this.prefix = options.keyPrefix;
    this.instanceId = options.instanceId;
    this.leaseMs = options.leaseMs;
  }

  async tryAcquire(request: QuotaRequest): Promise<QuotaDecision> {
    const now = Date.now();
    let reply: [number, string?];
    try {
      reply = await this.redis.cmQuotaAcquire(
        ...quotaKeys(this.prefix, request.tenantId),
        request.connectionId,
        this.instanceId,
        request.userId,
        request.userCap,
        request.tenantCap,
        now,
        now + this.leaseMs,
        request.replaces ?? '',
      );
    } catch (err) {
      return this.fallBack(request, err);
    }
    this.recovered();
    if (Number(reply[0]) !== 1) return { ok: false, exceeded: reply[1] === 'tenant' ? 'tenant' : 'user' };
    this.local.add(request);
    return { ok: true };
  }

  async release(slot: QuotaSlot): Promise<void> {
    if (!this.local.remove(slot)) return;
    try {
      await this.redis.cmQuotaRelease(...quotaKeys(this.prefix, slot.tenantId), slot.connectionId);
    } catch {
      // Redis holds a slot nobody uses: the next renew drops it.
      this.dirty.add(slot.tenantId);
    }
  }

  /** Renews this instance's lease in every tenant it holds slots in, and resyncs the tenants that need it. */
  async renew(leaseUntil: number): Promise<void> {
    const tenants = new Set([...this.local.tenantIds(), ...this.dirty]);
    const failures: unknown[] = [];
    await Promise.all(
      [...tenants].map(async (tenantId) => {
        try {
          const keys = quotaKeys(this.prefix, tenantId);
          // ZADD answers 1 when the lease was missing: purged after a stall, or Redis lost its data.
          const missing = this.dirty.has(tenantId) || Number(await this.redis.zadd(keys[3], leaseUntil, this.instanceId)) === 1;
          if (missing) await this.resync(tenantId, leaseUntil);
        } catch (err) {
          failures.push(err);
        }
      }),
    );
    if (failures.length > 0) throw new Error(`quota lease renewal failed for ${failures.length} tenant(s): ${(failures[0] as Error).message}`);
  }

  async releaseAll(): Promise<void> {
    const tenants = new Set([...this.local.tenantIds(), ...this.dirty]);
    await this.local.releaseAll();
    this.dirty.clear();
    // Best effort: if Redis does not answer, the lease runs out and the survivors drop the slots.
    await Promise.all([...tenants].map((tenantId) => this.resync(tenantId, 0).catch(() => undefined)));
  }

  /** Makes Redis hold exactly this instance's local slots of the tenant. */
  private async resync(tenantId: string, leaseUntil: number): Promise<void> {
    this.dirty.delete(tenantId);
    try {
      const pairs = this.local.slotsOf(tenantId).flatMap((s) => [s.connectionId, s.userId]);
      await this.redis.cmQuotaResync(...quotaKeys(this.prefix, tenantId), this.instanceId, leaseUntil, ...pairs);
    } catch (err) {
      this.dirty.add(tenantId);
      throw err;
    }
  }

  private fallBack(request: QuotaRequest, err: unknown): QuotaDecision {
    this.fallbacks++;
    if (!this.fallingBack) {
      this.fallingBack = true;
      this.logger.warn(`Redis did not answer the connection quota store, counting per instance: ${(err as Error)?.message ?? String(err)}`);
    }
    // Whatever Redis did with this request, the next renew makes it match the local slots.
    this.dirty.add(request.tenantId);
    return this.local.take(request);
  }

  private recovered(): void {
    if (!this.fallingBack) return;
    this.fallingBack = false;
    this.logger.warn('Redis answers the connection quota store again; counting across instances');
  }
}
