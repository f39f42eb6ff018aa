import { Injectable, Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TenantQuota, TenantQuotaPolicy } from '../src/domain/ports/tenant-quota-policy.port.js';
import { TestApp } from './support/test-app.js';

/**
 * Issue 12 §5, in memory: a host TenantQuotaPolicy (plans) sets a tenant's room capacity and
 * connection cap; its answers are cached per tenant for `tenantQuotaCacheMs`; a policy that
 * throws, rejects or answers nonsense gives its tenant the module defaults (logged), never a
 * refusal for everyone and never a crash.
 */

/** What the test policy answers per tenant (a TenantQuota, anything else, or throw/reject), and whom it was asked about. */
const plans = {
  answers: new Map<string, unknown>(),
  asked: [] as string[],
};

@Injectable()
class PlanPolicy implements TenantQuotaPolicy {
  quotaFor(tenantId: string): TenantQuota | Promise<TenantQuota> {
    plans.asked.push(tenantId);
    const answer = plans.answers.get(tenantId);
    if (answer === 'throw') throw new Error('plan database down');
    if (answer === 'reject') return Promise.reject(new Error('plan database down'));
    return Promise.resolve((answer ?? {}) as TenantQuota);
  }
}

/** Joins `canvasId` with users u0…u(n-1) of `tenantId`; returns each reply's type or error code. */
async function fill(t: TestApp, tenantId: string, canvasId: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const reply = await (await t.connect({ sub: `u${i}`, tenantId })).join(canvasId);
    out.push(reply.type === 'error' ? String(reply.code) : reply.type);
  }
  return out;
}

describe('TenantQuotaPolicy (in memory)', () => {
  let t: TestApp;
  afterEach(async () => {
    vi.restoreAllMocks();
    plans.answers.clear();
    plans.asked.length = 0;
    await t.close();
  });

  it('a paid tenant (roomCapacity 3) gets bigger rooms than a free one (2); a tenant without a plan gets the default (1)', async () => {
    plans.answers.set('paid', { roomCapacity: 3 });
    plans.answers.set('free', { roomCapacity: 2 });
    t = await TestApp.create({ options: { roomCapacity: 1 }, tenantQuotaPolicy: PlanPolicy });
    expect(await fill(t, 'paid', 'c1', 4)).toEqual(['room_joined', 'room_joined', 'room_joined', 'ROOM_FULL']);
    expect(await fill(t, 'free', 'c1', 3)).toEqual(['room_joined', 'room_joined', 'ROOM_FULL']);
    expect(await fill(t, 'none', 'c1', 2)).toEqual(['room_joined', 'ROOM_FULL']);
  });

  it("a plan's maxConnections caps its tenant (429 QUOTA_EXCEEDED tenant) over the module default", async () => {
    plans.answers.set('small', { maxConnections: 2 });
    t = await TestApp.create({ options: { maxConnectionsPerTenant: 100 }, tenantQuotaPolicy: PlanPolicy });
    await t.connect({ sub: 'a', tenantId: 'small' });
    await t.connect({ sub: 'b', tenantId: 'small' });
    const refused = await t.refusal(`?token=${t.token({ sub: 'c', tenantId: 'small' })}`);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'tenant' });
    for (const sub of ['a', 'b', 'c']) await t.connect({ sub, tenantId: 'big' });
  });

  it('answers are cached per tenant for tenantQuotaCacheMs, then asked again (a plan change takes effect)', async () => {
    plans.answers.set('acme', { roomCapacity: 1 });
    t = await TestApp.create({ options: { tenantQuotaCacheMs: 400 }, tenantQuotaPolicy: PlanPolicy });
    const a = await t.connect({ sub: 'a', tenantId: 'acme' });
    const b = await t.connect({ sub: 'b', tenantId: 'acme' });
    expect(await a.join('c1')).toMatchObject({ type: 'room_joined' });
    expect(await b.join('c1')).toMatchObject({ type: 'error', code: 'ROOM_FULL' });
    // Two upgrades and two joins: one question.
    expect(plans.asked).toEqual(['acme']);

    plans.answers.set('acme', { roomCapacity: 2 });
    expect(await b.join('c1')).toMatchObject({ type: 'error', code: 'ROOM_FULL' });
    // The cache entry expires with the clock, not with an event: wait out its 400 ms.
    await new Promise((r) => setTimeout(r, 450));
    expect(await b.join('c1')).toMatchObject({ type: 'room_joined' });
    expect(plans.asked).toEqual(['acme', 'acme']);
  });

  it('a policy that throws, rejects or answers invalid numbers gives that tenant the defaults, logged; other tenants keep their plan', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    plans.answers.set('throws', 'throw');
    plans.answers.set('rejects', 'reject');
    plans.answers.set('nonsense', { roomCapacity: -1, maxConnections: 1.5 });
    plans.answers.set('paid', { roomCapacity: 3 });
    t = await TestApp.create({ options: { roomCapacity: 2, maxConnectionsPerTenant: 0 }, tenantQuotaPolicy: PlanPolicy });
    for (const tenantId of ['throws', 'rejects', 'nonsense']) {
      expect(await fill(t, tenantId, 'c1', 3)).toEqual(['room_joined', 'room_joined', 'ROOM_FULL']);
    }
    expect(await fill(t, 'paid', 'c1', 4)).toEqual(['room_joined', 'room_joined', 'room_joined', 'ROOM_FULL']);
    const logged = warn.mock.calls.map((c) => String(c[0]));
    expect(logged.filter((l) => /tenant quota policy failed for tenant "(throws|rejects)", using the defaults: plan database down/.test(l))).toHaveLength(2);
    expect(logged.filter((l) => /tenant quota policy gave tenant "nonsense" an invalid (roomCapacity|maxConnections)/.test(l))).toHaveLength(2);
  });
});
