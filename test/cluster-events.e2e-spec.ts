import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpLogsOnFailure, startDeployment, takeFrames, uniqueTenant, until, type AppInstance, type Deployment } from './support/instance-harness.js';

/**
 * Issue 4, "Events: each instance emits the domain events for its own connections only (no
 * double counting in the Presence/Router modules)". Domain events are in-process, so they are
 * observed from outside through what they drive: each instance's GET /metrics counters (moved
 * one per event by the ops module) and the presence/message frames the reference modules send.
 * When /metrics is not served (404) the counter part is skipped.
 */
describe('cluster domain events on single Redis', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('single', 3, {}, { external: true });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  /** Sum of the samples of a metric (any prefix) whose labels include `labels`. */
  function sample(text: string, suffix: string, labels: Record<string, string> = {}): number {
    let total = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m || !m[1].endsWith(suffix)) continue;
      const have = m[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) total += Number(m[3]);
    }
    return total;
  }

  const COUNTERS = {
    accepted: ['upgrades_total', { outcome: 'accepted' }],
    joins: ['room_joins_total', { outcome: 'ok' }],
    messages: ['messages_in_total', {}],
    leaves: ['room_leaves_total', { reason: 'leave' }],
    disconnects: ['room_leaves_total', { reason: 'disconnect' }],
    closes: ['connections_closed_total', { cause: 'client' }],
  } as const;
  type Counts = Record<keyof typeof COUNTERS, number>;

  async function counts(inst: AppInstance): Promise<Counts | undefined> {
    const res = await inst.get('/metrics');
    if (res.status === 404) return undefined;
    expect(res.status).toBe(200);
    const text = String(res.body);
    return Object.fromEntries(Object.entries(COUNTERS).map(([k, [suffix, labels]]) => [k, sample(text, suffix, labels)])) as Counts;
  }

  it("counts each connection's events once, on its own instance, and presence/messages reach peers once", async (ctx) => {
    const tenantId = uniqueTenant('ev');
    const [A, B] = d.instances;
    const before = await Promise.all(d.instances.map(counts));

    const alice = await A.connect({ sub: 'alice', tenantId });
    const bob = await B.connect({ sub: 'bob', tenantId });
    await bob.join('e1');
    await alice.join('e1');
    for (let i = 0; i < 10; i++) alice.send({ type: 'message', canvasId: 'e1', data: { i } });
    await until(() => bob.frames.filter((f) => f.type === 'message').length >= 10, 15_000, '10 messages on B');
    await alice.request({ type: 'leave', canvasId: 'e1' }, 10_000);
    await until(() => bob.frames.some((f) => f.type === 'presence_leave'), 10_000, 'presence_leave on B');
    await new Promise((r) => setTimeout(r, 500));

    // The reference modules on B did not relay anything twice.
    expect(takeFrames(bob, (f) => f.type === 'presence_join').map((f) => f.member.userId)).toEqual(['alice']);
    expect(takeFrames(bob, (f) => f.type === 'message').map((f) => f.data.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(takeFrames(bob, (f) => f.type === 'presence_leave').map((f) => f.userId)).toEqual(['alice']);
    await bob.close();
    await alice.close();

    if (before.some((b) => b === undefined)) ctx.skip(); // no /metrics: nothing more to observe
    // Counters settle once the closes are processed.
    await until(async () => (await counts(B))!.closes - before[1]!.closes >= 1, 10_000, "B to count bob's close");
    await until(async () => (await counts(A))!.closes - before[0]!.closes >= 1, 10_000, "A to count alice's close");
    const after = await Promise.all(d.instances.map(counts));
    const delta = (i: number) => Object.fromEntries(Object.keys(COUNTERS).map((k) => [k, after[i]![k as keyof Counts] - before[i]![k as keyof Counts]]));
    expect({ A: delta(0), B: delta(1), C: delta(2) }).toEqual({
      A: { accepted: 1, joins: 1, messages: 10, leaves: 1, disconnects: 0, closes: 1 },
      B: { accepted: 1, joins: 1, messages: 0, leaves: 0, disconnects: 1, closes: 1 },
      C: { accepted: 0, joins: 0, messages: 0, leaves: 0, disconnects: 0, closes: 0 },
    });
  }, 90_000);
});
