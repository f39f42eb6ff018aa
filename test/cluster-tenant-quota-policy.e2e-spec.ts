import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantQuota, TenantQuotaPolicy } from '../src/domain/ports/tenant-quota-policy.port.js';
import { startRedis, type RedisTarget } from './support/redis-harness.js';
import { TestApp } from './support/test-app.js';

/**
 * Issue 12 §5 on real Redis: a TenantQuotaPolicy's room capacity is enforced cluster-wide like
 * the default one (the membership store's atomic join gets the tenant's capacity). Two app
 * instances in this process share one Redis; their users alternate between them.
 */
@Injectable()
class PlanPolicy implements TenantQuotaPolicy {
  quotaFor(tenantId: string): TenantQuota {
    if (tenantId.startsWith('paid')) return { roomCapacity: 3 };
    if (tenantId.startsWith('free')) return { roomCapacity: 2 };
    return {};
  }
}

describe('TenantQuotaPolicy room capacity across instances (single Redis)', () => {
  let redis: RedisTarget;
  let apps: TestApp[] = [];
  beforeAll(async () => {
    redis = await startRedis('single');
    const options = { roomCapacity: 1, redis: { url: redis.env.REDIS_URL } };
    apps = [await TestApp.create({ options, tenantQuotaPolicy: PlanPolicy }), await TestApp.create({ options, tenantQuotaPolicy: PlanPolicy })];
  }, 60_000);
  afterAll(async () => {
    for (const app of apps) await app.close();
    await redis?.destroy();
  }, 60_000);

  /** Users u0…u(n-1) of the tenant join one canvas, alternating between the two instances. */
  async function fill(tenantId: string, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const client = await apps[i % 2].connect({ sub: `u${i}`, tenantId });
      const reply = await client.request({ type: 'join', canvasId: 'board' }, 10_000);
      out.push(reply.type === 'error' ? String(reply.code) : reply.type);
    }
    return out;
  }

  it('a paid tenant gets rooms of 3 users, a free one rooms of 2, others the default 1, counted across both instances', async () => {
    expect(await fill('paid-acme', 4)).toEqual(['room_joined', 'room_joined', 'room_joined', 'ROOM_FULL']);
    expect(await fill('free-corp', 3)).toEqual(['room_joined', 'room_joined', 'ROOM_FULL']);
    expect(await fill('no-plan', 2)).toEqual(['room_joined', 'ROOM_FULL']);
  }, 60_000);
});
