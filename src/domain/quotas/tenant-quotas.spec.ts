import { describe, expect, it } from 'vitest';
import { resolveConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import type { TenantQuotaPolicy } from '../ports/tenant-quota-policy.port.js';
import { MAX_CACHED_TENANTS, TenantQuotas } from './tenant-quotas.js';

const options = resolveConnectionManagerOptions({ jwt: { secret: 's' }, roomCapacity: 7, maxConnectionsPerTenant: 9 });

/** A policy that records whom it was asked about. */
function countingPolicy(answer: (tenantId: string) => ReturnType<TenantQuotaPolicy['quotaFor']>): TenantQuotaPolicy & { asked: string[] } {
  const asked: string[] = [];
  return { asked, quotaFor: (tenantId) => (asked.push(tenantId), answer(tenantId)) };
}

describe('TenantQuotas', () => {
  it('without a policy: the module defaults, synchronously', () => {
    expect(new TenantQuotas(options).quotaOf('t')).toEqual({ maxConnections: 9, roomCapacity: 7 });
  });

  it('merges a partial answer with the defaults; concurrent lookups of a tenant share one call', async () => {
    const policy = countingPolicy(async () => ({ roomCapacity: 3 }));
    const quotas = new TenantQuotas(options, policy);
    const [a, b] = await Promise.all([quotas.quotaOf('paid'), quotas.quotaOf('paid')]);
    expect(a).toEqual({ maxConnections: 9, roomCapacity: 3 });
    expect(b).toBe(a);
    expect(quotas.quotaOf('paid')).toEqual(a); // cached: synchronous
    expect(policy.asked).toEqual(['paid']);
  });

  it(`keeps at most ${MAX_CACHED_TENANTS} tenants, dropping the least recently used first`, async () => {
    const policy = countingPolicy(() => ({ roomCapacity: 2 }));
    const quotas = new TenantQuotas(options, policy);
    for (let i = 0; i < MAX_CACHED_TENANTS; i++) await quotas.quotaOf(`t${i}`);
    await quotas.quotaOf('t0'); // a hit: t0 is now the most recently used
    await quotas.quotaOf('one-more'); // evicts t1
    policy.asked.length = 0;
    await quotas.quotaOf('t0');
    await quotas.quotaOf('t2');
    expect(policy.asked).toEqual([]);
    await quotas.quotaOf('t1');
    expect(policy.asked).toEqual(['t1']);
  });
});
