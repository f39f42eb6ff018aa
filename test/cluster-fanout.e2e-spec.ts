import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  busChannel,
  dumpLogsOnFailure,
  startDeployment,
  takeFrames,
  uniqueTenant,
  until,
  type ClusterClient,
  type Deployment,
} from './support/instance-harness.js';
import { shardSubscribers } from './support/redis-harness.js';

/**
 * Issue 4, "Fan-out": a message sent on instance A reaches the room's connections on B and C
 * once each, in the order A sent them (per sender); an instance with no member of a room
 * receives none of its traffic. How (docs/scale-out.md): one sharded channel per room,
 * `cm:{<roomKey>}:bus`, SSUBSCRIBEd by an instance only while it has local members; the
 * tests count the channel's subscribers with PUBSUB SHARDNUMSUB on every node.
 */
describe.each(['single', 'cluster'] as const)('cluster fan-out on %s Redis', (kind) => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment(kind, 3, {}, { external: true });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  /** Waits until `client` holds `count` message frames and returns them (others stay). */
  async function messages(client: ClusterClient, count: number, timeoutMs = 20_000): Promise<any[]> {
    await until(
      () => client.frames.filter((f) => f.type === 'message').length >= count,
      timeoutMs,
      `${count} messages on ${client.ack.userId}@${client.instance.name}`,
    );
    return takeFrames(client, (f) => f.type === 'message');
  }

  it('200 messages sent on A reach the members on A, B and C exactly once each, in send order', async () => {
    const tenantId = uniqueTenant('fan');
    const [A, B, C] = d.instances;
    const sender = await A.connect({ sub: 'sender', tenantId });
    const senderTab = await B.connect({ sub: 'sender', tenantId });
    const local = await A.connect({ sub: 'local', tenantId });
    const onB = await B.connect({ sub: 'on-b', tenantId });
    const onC = await C.connect({ sub: 'on-c', tenantId });
    const everyone = [sender, senderTab, local, onB, onC];
    for (const c of everyone) {
      await c.join('f1');
      await c.next('presence_state', 10_000);
    }
    // Subscriptions are asynchronous: wait until every instance listens on the room's channel.
    const channel = busChannel(tenantId, 'f1', d.prefix);
    await until(async () => (await shardSubscribers(d.redis, channel)) === 3, 10_000, `3 subscribers of ${channel}`);
    for (const c of everyone) takeFrames(c, () => true);

    for (let i = 0; i < 200; i++) sender.send({ type: 'message', canvasId: 'f1', data: { i } });

    for (const c of [senderTab, local, onB, onC]) {
      const got = await messages(c, 200);
      expect(got.map((f) => f.data.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(got[0]).toEqual({
        type: 'message',
        pos: expect.stringMatching(/^\d{16}\.\d+$/),
        roomId: 'canvas:f1',
        canvasId: 'f1',
        from: { userId: 'sender', connectionId: sender.ack.connectionId },
        data: { i: 0 },
      });
    }
    // Nothing more arrives (no duplicate through the bus), and never to the sending connection.
    await new Promise((r) => setTimeout(r, 1000));
    for (const c of everyone) expect(takeFrames(c, (f) => f.type === 'message')).toEqual([]);
    await Promise.all(everyone.map((c) => c.close()));
  }, 120_000);

  it('keeps per-sender order with two senders on different instances sending at once', async () => {
    const tenantId = uniqueTenant('fan2');
    const [A, B, C] = d.instances;
    const s1 = await A.connect({ sub: 's1', tenantId });
    const s2 = await B.connect({ sub: 's2', tenantId });
    const r = await C.connect({ sub: 'r', tenantId });
    for (const c of [s1, s2, r]) {
      await c.join('f2');
      await c.next('presence_state', 10_000);
    }
    await until(async () => (await shardSubscribers(d.redis, busChannel(tenantId, 'f2', d.prefix))) === 3, 10_000, '3 subscribers');
    for (const c of [s1, s2, r]) takeFrames(c, () => true);

    for (let i = 0; i < 100; i++) {
      s1.send({ type: 'message', canvasId: 'f2', data: { i } });
      s2.send({ type: 'message', canvasId: 'f2', data: { i } });
    }
    const got = await messages(r, 200);
    expect(got.filter((f) => f.from.userId === 's1').map((f) => f.data.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(got.filter((f) => f.from.userId === 's2').map((f) => f.data.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect((await messages(s1, 100)).every((f) => f.from.userId === 's2')).toBe(true);
    expect((await messages(s2, 100)).every((f) => f.from.userId === 's1')).toBe(true);
    await Promise.all([s1, s2, r].map((c) => c.close()));
  }, 90_000);

  it('subscribes only the instances that have members of the room, and unsubscribes when the last one leaves', async () => {
    const tenantId = uniqueTenant('sub');
    const [A, B, C] = d.instances;
    const channel = busChannel(tenantId, 'f3', d.prefix);
    const onA = await A.connect({ sub: 'a', tenantId });
    const onB = await B.connect({ sub: 'b', tenantId });
    const onC = await C.connect({ sub: 'c', tenantId });
    // C has a connection, but in another room only.
    await onC.join('elsewhere');
    await onA.join('f3');
    await onB.join('f3');
    const listing = async () => (await d.redis.onEveryNode(['PUBSUB', 'SHARDCHANNELS', `*${tenantId}*`])).join(' ');
    await until(async () => (await shardSubscribers(d.redis, channel)) === 2, 10_000, `2 subscribers of ${channel} (channels: ${await listing()})`);

    // Traffic of f3 flows between A and B, and C (no member) is not subscribed to it.
    for (let i = 0; i < 20; i++) onA.send({ type: 'message', canvasId: 'f3', data: { i } });
    await until(() => onB.frames.filter((f) => f.type === 'message').length === 20, 10_000, '20 messages on B');
    await new Promise((r) => setTimeout(r, 300));
    expect(await shardSubscribers(d.redis, channel)).toBe(2);
    expect(onC.frames.filter((f) => f.type === 'message')).toEqual([]);

    // B's last member leaves: B unsubscribes; A's last member closes: nobody listens any more.
    await onB.request({ type: 'leave', canvasId: 'f3' }, 10_000);
    await until(async () => (await shardSubscribers(d.redis, channel)) === 1, 10_000, `1 subscriber of ${channel} after B left`);
    await onA.close();
    await until(async () => (await shardSubscribers(d.redis, channel)) === 0, 10_000, `no subscriber of ${channel} after A closed`);
    await Promise.all([onB, onC].map((c) => c.close()));
  }, 90_000);
});
