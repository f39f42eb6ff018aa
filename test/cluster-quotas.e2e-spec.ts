import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  dumpLogsOnFailure,
  metricValue,
  signToken,
  startDeployment,
  uniqueTenant,
  until,
  type AppInstance,
  type ClusterClient,
  type Deployment,
} from './support/instance-harness.js';
import { redisCli } from './support/redis-harness.js';
import type { Refusal } from './support/test-client.js';

/**
 * Issue 12 §5 on real Redis: the connection quotas are counted across every instance, exactly
 * under concurrency (one Lua script per acquire), and a killed instance's slots do not leak
 * (its lease in the tenant runs out, the next acquire drops them). On a single Redis and on a
 * 3-master Redis Cluster (a tenant's quota keys share one hash slot).
 */
const LEASE_MS = 1500;

/** The tenant's open slots as Redis counts them (the `conns` hash, on whichever node holds it). */
async function slotsInRedis(d: Deployment, tenantId: string): Promise<number> {
  const key = `${d.prefix}:{quota@${encodeURIComponent(tenantId)}}:conns`;
  // On a cluster, the nodes that do not hold the key's slot answer MOVED: they count 0.
  const outs = await Promise.all(d.redis.nodes.map((n) => redisCli(n.port, ['HLEN', key], n.host).catch(() => '')));
  return outs
    .map((o) => o.trim())
    .filter((o) => /^\d+$/.test(o))
    .reduce((sum, o) => sum + Number(o), 0);
}

/** Polls Redis until the tenant holds `expected` slots; the failure names the last count seen. */
async function slotsBecome(d: Deployment, tenantId: string, expected: number, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await slotsInRedis(d, tenantId);
    if (last === expected) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: Redis counts ${last} slots, expected ${expected}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One upgrade attempt: the client once acked, or the refusal. */
function attempt(instance: AppInstance, claims: { sub: string; tenantId: string }): Promise<{ client: WebSocket } | { refusal: Refusal }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${instance.url}?token=${signToken(claims)}`);
    ws.once('message', () => resolve({ client: ws })); // connection_ack
    ws.once('unexpected-response', (_req, res) => {
      let raw = '';
      res.on('data', (c: Buffer) => (raw += c.toString()));
      res.on('end', () => resolve({ refusal: { status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(raw) } }));
    });
    ws.once('error', reject);
  });
}

function expectQuotaExceeded(r: Refusal | undefined, quota: 'user' | 'tenant'): void {
  expect(r?.status).toBe(429);
  expect(r?.body).toStrictEqual({ error: { code: 'QUOTA_EXCEEDED', message: expect.any(String), quota } });
  expect(Number(r?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

describe.each(['single', 'cluster'] as const)('cluster connection quotas on %s Redis', (kind) => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment(kind, 3, {
      WS_MAX_CONNECTIONS_PER_TENANT: '40',
      WS_MAX_CONNECTIONS_PER_USER: '2',
      WS_INSTANCE_LEASE_MS: String(LEASE_MS),
    });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  it('60 simultaneous upgrades of one tenant through 3 instances, cap 40: exactly 40 in, 20 × 429 QUOTA_EXCEEDED "tenant"; a close anywhere frees a slot everywhere', async () => {
    const tenantId = uniqueTenant('quota');
    const outcomes = await Promise.all(Array.from({ length: 60 }, (_, i) => attempt(d.instances[i % 3], { sub: `user-${i}`, tenantId })));
    const opened = outcomes.flatMap((o, i) => ('client' in o ? [{ ws: o.client, instance: i % 3 }] : []));
    const refused = outcomes.flatMap((o) => ('refusal' in o ? [o.refusal] : []));
    expect(opened).toHaveLength(40);
    expect(refused).toHaveLength(20);
    for (const r of refused) expectQuotaExceeded(r, 'tenant');
    // Each instance saw 20 attempts, fewer than the cap: only a cluster-wide count refuses any.
    expect(await slotsInRedis(d, tenantId)).toBe(40);

    // Three connections close (on whichever instances admitted them: under load one instance
    // may have admitted none): three newcomers get in through C, the next is refused.
    for (const o of opened.slice(0, 3)) o.ws.close();
    await slotsBecome(d, tenantId, 37, 'the three slots given back');
    const late = await Promise.all(['late-0', 'late-1', 'late-2', 'late-3'].map((sub) => attempt(d.instances[2], { sub, tenantId })));
    expect(late.filter((o) => 'client' in o)).toHaveLength(3);
    expectQuotaExceeded(late.flatMap((o) => ('refusal' in o ? [o.refusal] : []))[0], 'tenant');
    for (const o of [...opened, ...late.flatMap((l) => ('client' in l ? [{ ws: l.client }] : []))]) o.ws.terminate();
    await slotsBecome(d, tenantId, 0, 'every slot given back');
  }, 120_000);

  it('counts one user across instances: a tab on A and one on B, the third (on C) gets 429 QUOTA_EXCEEDED "user"', async () => {
    const tenantId = uniqueTenant('quota-user');
    const [A, B, C] = d.instances;
    const tabs: ClusterClient[] = [await A.connect({ sub: 'ann', tenantId }), await B.connect({ sub: 'ann', tenantId })];
    expectQuotaExceeded(await C.refusal(`?token=${signToken({ sub: 'ann', tenantId })}`), 'user');
    await tabs[0].close();
    await slotsBecome(d, tenantId, 1, "the closed tab's slot given back");
    tabs.push(await C.connect({ sub: 'ann', tenantId }));
    await Promise.all(tabs.map((c) => c.close()));
  }, 60_000);

  it("a killed instance's slots do not leak: once its lease is past, the next upgrade drops them", async () => {
    const tenantId = uniqueTenant('quota-crash');
    const [A, B] = d.instances;
    await A.connect({ sub: 'victim', tenantId });
    await A.connect({ sub: 'victim', tenantId });
    expectQuotaExceeded(await B.refusal(`?token=${signToken({ sub: 'victim', tenantId })}`), 'user');

    const killedAt = Date.now();
    await A.stop('SIGKILL');
    // Refused (429) until A's lease in the tenant has run out, then admitted.
    let back: ClusterClient | undefined;
    await until(
      async () => {
        back = await B.connect({ sub: 'victim', tenantId }).catch(() => undefined);
        return back !== undefined;
      },
      LEASE_MS + 8000,
      'the victim to get a slot again',
      250,
    );
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(LEASE_MS - 600);
    // The dead instance's two slots are gone, the new one is counted: one more fits, not two.
    expect(await slotsInRedis(d, tenantId)).toBe(1);
    await B.connect({ sub: 'victim', tenantId });
    expectQuotaExceeded(await B.refusal(`?token=${signToken({ sub: 'victim', tenantId })}`), 'user');
  }, 60_000);
});

describe('cluster connection quotas through a Redis outage (single Redis)', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('single', 2, { WS_MAX_CONNECTIONS_PER_USER: '2', WS_INSTANCE_LEASE_MS: String(LEASE_MS) });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  it('counts per instance while Redis is down (visible in cm_quota_fallbacks_total), then Redis gets exactly the live slots back', async () => {
    const tenantId = uniqueTenant('quota-outage');
    const [A, B] = d.instances;
    await d.redis.server!.stop();
    await until(
      async () => (await A.get('/health/ready')).status === 503 && (await B.get('/health/ready')).status === 503,
      10_000,
      'both instances to see Redis gone',
    );

    // Per instance: A admits two tabs of ann and refuses a third; B counts its own.
    const a1 = await A.connect({ sub: 'ann', tenantId });
    const a2 = await A.connect({ sub: 'ann', tenantId });
    expectQuotaExceeded(await A.refusal(`?token=${signToken({ sub: 'ann', tenantId })}`), 'user');
    const b1 = await B.connect({ sub: 'ann', tenantId });
    expect(metricValue((await A.get('/metrics')).body, 'cm_quota_fallbacks_total')).toBe(3);
    expect(metricValue((await B.get('/metrics')).body, 'cm_quota_fallbacks_total')).toBe(1);
    // A release during the outage is lost in Redis: the resync must drop it.
    await a1.close();

    await d.redis.server!.restart();
    // Redis came back empty: the instances put back exactly their live slots (a2 on A, b1 on B).
    await slotsBecome(d, tenantId, 2, 'the live slots re-registered');
    expectQuotaExceeded(await B.refusal(`?token=${signToken({ sub: 'ann', tenantId })}`), 'user');
    await a2.close();
    await slotsBecome(d, tenantId, 1, "a2's slot given back");
    const again = await B.connect({ sub: 'ann', tenantId });
    expect(again.ack.userId).toBe('ann');
    await Promise.all([b1, again].map((c) => c.close()));
  }, 90_000);
});
