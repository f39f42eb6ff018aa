import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import { TenantQuotaPolicy, type TenantQuota } from '../ports/tenant-quota-policy.port.js';

/** A tenant's limits with every default applied. */
export interface ResolvedTenantQuota {
  /** Open connections of the tenant across the cluster; 0 = no cap. */
  maxConnections: number;
  /** Distinct users per room of the tenant. */
  roomCapacity: number;
}

/** Tenants whose answer is cached; past it the least recently used is dropped first. */
export const MAX_CACHED_TENANTS = 10_000;
/** A policy that has not answered within this is treated as failed (its tenant gets the defaults). */
export const POLICY_TIMEOUT_MS = 2000;
/** How long the defaults given after a policy failure are reused before the policy is asked again. */
export const FAILURE_CACHE_MS = 5000;

interface Cached {
  quota: ResolvedTenantQuota;
  until: number;
}

/**
 * Each tenant's limits: the host's {@link TenantQuotaPolicy} when one is configured, else the
 * module defaults (`maxConnectionsPerTenant`, `roomCapacity`). Answers are cached per tenant
 * for `tenantQuotaCacheMs` (default 60000) in a map bounded to {@link MAX_CACHED_TENANTS}
 * entries (least recently used out first); concurrent lookups of one tenant share one call. A
 * policy that throws, rejects, does not answer within {@link POLICY_TIMEOUT_MS} or answers
 * invalid numbers is logged, and the tenant gets the defaults (for at most
 * {@link FAILURE_CACHE_MS}): a broken policy never refuses anyone and never crashes.
 */
@Injectable()
export class TenantQuotas {
  private readonly logger = new Logger(TenantQuotas.name);
  private readonly defaults: ResolvedTenantQuota;
  /** Insertion order = recency: a hit moves its tenant to the end. */
  private readonly cache = new Map<string, Cached>();
  private readonly asking = new Map<string, Promise<ResolvedTenantQuota>>();

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Optional() @Inject(TenantQuotaPolicy) private readonly policy?: TenantQuotaPolicy,
  ) {
    this.defaults = { maxConnections: options.maxConnectionsPerTenant, roomCapacity: options.roomCapacity };
  }

  /** Whether a host policy is configured (then any tenant may have a connection cap). */
  get hasPolicy(): boolean {
    return this.policy !== undefined;
  }

  /** The tenant's limits: synchronous without a policy or on a cache hit. Never rejects. */
  quotaOf(tenantId: string): ResolvedTenantQuota | Promise<ResolvedTenantQuota> {
    if (!this.policy) return this.defaults;
    const hit = this.cache.get(tenantId);
    if (hit) {
      this.cache.delete(tenantId);
      if (hit.until > Date.now()) {
        this.cache.set(tenantId, hit);
        return hit.quota;
      }
    }
    let pending = this.asking.get(tenantId);
    if (!pending) {
      pending = this.ask(this.policy, tenantId);
      this.asking.set(tenantId, pending);
    }
    return pending;
  }

  private async ask(policy: TenantQuotaPolicy, tenantId: string): Promise<ResolvedTenantQuota> {
    let quota: ResolvedTenantQuota;
    let ttlMs = this.options.tenantQuotaCacheMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        Promise.resolve().then(() => policy.quotaFor(tenantId)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${POLICY_TIMEOUT_MS} ms`)), POLICY_TIMEOUT_MS);
        }),
      ]);
      quota = this.validated(tenantId, answer);
    } catch (err) {
      this.logger.warn(`tenant quota policy failed for tenant ${JSON.stringify(tenantId)}, using the defaults: ${(err as Error)?.message ?? String(err)}`);
      quota = this.defaults;
      ttlMs = Math.min(ttlMs, FAILURE_CACHE_MS);
    } finally {
      clearTimeout(timer);
      this.asking.delete(tenantId);
    }
    this.remember(tenantId, quota, ttlMs);
    return quota;
  }

  /** The policy's answer with each missing or invalid field replaced by its default (invalid ones logged). */
  private validated(tenantId: string, answer: TenantQuota | undefined | null): ResolvedTenantQuota {
    const a = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
    const pick = (field: keyof ResolvedTenantQuota, min: number): number => {
      const v = a[field];
      if (v === undefined) return this.defaults[field];
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min) return v;
      this.logger.warn(`tenant quota policy gave tenant ${JSON.stringify(tenantId)} an invalid ${field}, using the default ${this.defaults[field]}`);
      return this.defaults[field];
    };
    return { maxConnections: pick('maxConnections', 0), roomCapacity: pick('roomCapacity', 1) };
  }

  private remember(tenantId: string, quota: ResolvedTenantQuota, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.cache.delete(tenantId);
    while (this.cache.size >= MAX_CACHED_TENANTS) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
    this.cache.set(tenantId, { quota, until: Date.now() + ttlMs });
  }
}
