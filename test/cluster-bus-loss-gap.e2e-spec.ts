import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  busChannel,
  dumpLogsOnFailure,
  positionNumber,
  metricValue,
  startDeployment,
  takeFrames,
  uniqueTenant,
  until,
  type ClusterClient,
  type Deployment,
} from './support/instance-harness.js';

/**
 * Pub/sub is at most once: what Redis publishes while an instance's subscriber connection is
 * down never reaches that instance. The room log has every message, so an instance that sees a
 * gap in a room's positions reads it from the log (LogOrder) and its members, connected
 * throughout, miss nothing. Two instances on a real redis-server; Ann streams on A; every pub/sub
 * connection is killed (CLIENT KILL TYPE pubsub) in the middle of the stream. Bob (on B) and Dan
 * (on A) must each see every position after their join exactly once, in order.
 */
describe('room messages across a lost bus subscription', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('single', 2);
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  it('members connected throughout get every message, the ones published while their instance resubscribed read from the log', async () => {
    const tenantId = uniqueTenant('gap');
    const [A, B] = d.instances;
    const ann = await A.connect({ sub: 'ann', tenantId });
    const dan = await A.connect({ sub: 'dan', tenantId });
    const bob = await B.connect({ sub: 'bob', tenantId });
    await ann.join('c1');
    const danJoined = await dan.join('c1');
    const bobJoined = await bob.join('c1');
    const gapsRead = async () => metricValue((await B.get('/metrics')).body, 'cm_room_log_gaps_read_total') ?? 0;
    expect(await gapsRead()).toBe(0);

    // Ann streams until the subscriptions are back and 50 more messages went out; then 'end'.
    let sent = 0;
    let stopAfter = Infinity;
    const stream = (async () => {
      while (sent < stopAfter) {
        ann.send({ type: 'message', canvasId: 'c1', data: `a${sent++}` });
        await new Promise((r) => setTimeout(r, 2));
      }
      ann.send({ type: 'message', canvasId: 'c1', data: 'end' });
    })();
    const messagesOn = (client: ClusterClient) => client.frames.filter((f) => f.type === 'message').length;
    await until(() => messagesOn(bob) >= 20, 10_000, 'twenty of ann’s messages on bob');
    await d.redis.onEveryNode(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    // Both instances resubscribe (ioredis, ~100 ms): wait for the room's channel to count two subscribers again.
    await until(
      async () => (await d.redis.onEveryNode(['PUBSUB', 'SHARDNUMSUB', busChannel(tenantId, 'c1', d.prefix)]))[0].trim().endsWith('2'),
      10_000,
      'both instances subscribed again',
    );
    stopAfter = sent + 50;
    await stream;

    const seen = (client: ClusterClient) => client.frames.some((f) => f.type === 'message' && f.data === 'end');
    await until(() => seen(bob) && seen(dan), 15_000, "ann's last message on bob and dan");
    for (const [client, joined] of [
      [bob, bobJoined],
      [dan, danJoined],
    ] as const) {
      const ns = takeFrames(client, (f) => f.type === 'message').map((f) => positionNumber(f.pos as string));
      const first = positionNumber(joined.pos as string);
      expect(ns).toEqual(Array.from({ length: sent + 1 }, (_, i) => first + 1 + i));
    }
    // The kill did lose messages on B's bus: they came from the log.
    expect(await gapsRead()).toBeGreaterThanOrEqual(1);
    expect(metricValue((await B.get('/metrics')).body, 'cm_room_log_gaps_left_total')).toBe(0);
  }, 60_000);
});
