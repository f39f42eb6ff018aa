import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InstanceGroup,
  dumpLogsOnFailure,
  takeFrames,
  uniqueTenant,
  until,
  waitFor,
  type AppInstance,
  type ClusterClient,
  type Deployment,
} from './support/instance-harness.js';
import { startRedis } from './support/redis-harness.js';
import { tcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import type { ServerFrame } from './support/test-client.js';

/**
 * Issue 16, known gap "presence changes made during a Redis outage are not re-sent":
 * presence_join/presence_leave cross instances on the room bus (pub/sub, at-most-once), so those
 * published while an instance could not reach Redis are lost. After the outage the members of
 * each affected room must get a fresh presence_state that reflects the change, on every
 * instance, including instances that never noticed the outage:
 * - one instance's link to Redis is cut (a network blip: Redis and the other instance stay up);
 *   a user of the cut-off instance leaves; the other instance's members learn it once the link
 *   is back, although their own instance had no outage to recover from;
 * - Redis stops and restarts empty (every instance has an outage); a user leaves meanwhile; the
 *   members on the other instance learn it.
 * Two instances on a redis-server of the test's own; B reaches it through a TCP link the test
 * can cut. Everything waits on frames or on readiness, never on a fixed sleep.
 */
describe('cluster presence after a Redis outage (single Redis)', () => {
  let d: Deployment;
  let link: TcpProxy;

  beforeAll(async () => {
    const redis = await startRedis('single');
    link = await tcpProxy(redis.server!.port);
    let group: InstanceGroup;
    try {
      // A on Redis directly, B through the link.
      const throughLink: Record<string, string> = { REDIS_URL: `redis://127.0.0.1:${link.port}` };
      group = await InstanceGroup.start(2, { ...redis.env, REDIS_KEY_PREFIX: 'cm' }, (i) => (i === 1 ? throughLink : {}));
      await Promise.all(group.instances.map((instance) => instance.ready()));
    } catch (err) {
      await link.close();
      await redis.destroy();
      throw err;
    }
    d = {
      redis,
      prefix: 'cm',
      group,
      instances: group.instances,
      destroy: async () => {
        await group.destroy().catch(() => undefined);
        await link.close();
        await redis.destroy();
      },
    };
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  const users = (members: Array<{ userId: string }>) => members.map((m) => m.userId).sort();
  /** A presence_state of `canvasId` listing exactly `userIds`. */
  const stateOf =
    (canvasId: string, userIds: string[]) =>
    (f: ServerFrame): boolean =>
      f.type === 'presence_state' && f.canvasId === canvasId && users(f.members).join() === [...userIds].sort().join();
  const readiness = async (instance: AppInstance) => (await instance.get('/health/ready')).status;

  /** Connects `who` ([user, instance]) to one room and waits until each has heard of all the others. */
  async function room(tenantId: string, canvasId: string, who: Array<[string, AppInstance]>): Promise<Record<string, ClusterClient>> {
    const c: Record<string, ClusterClient> = {};
    for (const [user, instance] of who) {
      c[user] = await instance.connect({ sub: user, tenantId });
      expect(await c[user].join(canvasId)).toMatchObject({ type: 'room_joined', canvasId });
    }
    const all = who.map(([user]) => user);
    for (const [user] of who) {
      // Its own presence_state, or the presence_join of everybody who came after it.
      const later = all.slice(all.indexOf(user) + 1);
      for (const other of later) await waitFor(c[user], (f) => f.type === 'presence_join' && f.member.userId === other, 10_000, `${user} to see ${other} join`);
    }
    for (const client of Object.values(c)) takeFrames(client, () => true);
    return c;
  }

  it('one instance cut off from Redis: a leave made there reaches the other instance’s members as a fresh presence_state', async () => {
    const [A, B] = d.instances;
    const c = await room(uniqueTenant('blip'), 'blip', [
      ['alice', A],
      ['bob', B],
      ['carol', B],
    ]);

    link.cut();
    await until(async () => (await readiness(B)) === 503, 15_000, 'B to notice it lost Redis');
    expect(await readiness(A)).toBe(200);

    // carol leaves while B is cut off: bob, on B, hears it; the frame for alice (A) is lost.
    expect(await c.carol.request({ type: 'leave', canvasId: 'blip' }, 10_000)).toMatchObject({ type: 'room_left', canvasId: 'blip' });
    expect(await waitFor(c.bob, (f) => f.type === 'presence_leave', 10_000, 'presence_leave of carol on B')).toMatchObject({ userId: 'carol' });

    link.restore();
    // A never had an outage; its member learns of the leave once B has re-registered.
    expect(await waitFor(c.alice, stateOf('blip', ['alice', 'bob']), 20_000, 'a presence_state without carol on A')).toMatchObject({
      type: 'presence_state',
      roomId: 'canvas:blip',
      canvasId: 'blip',
    });
    await waitFor(c.bob, stateOf('blip', ['alice', 'bob']), 20_000, 'a presence_state without carol on B');
    await until(async () => (await readiness(B)) === 200, 15_000, 'B ready again');
  }, 90_000);

  it('Redis restarted empty: a leave made during the outage reaches the other instance’s members as a fresh presence_state', async () => {
    const [A, B] = d.instances;
    const c = await room(uniqueTenant('restart'), 'restart', [
      ['alice', A],
      ['dave', A],
      ['bob', B],
    ]);

    await d.redis.server!.stop();
    await until(async () => (await readiness(A)) === 503 && (await readiness(B)) === 503, 15_000, 'both instances to notice Redis is gone');

    // dave leaves during the outage: alice, on A, hears it; the frame for bob (B) is lost.
    expect(await c.dave.request({ type: 'leave', canvasId: 'restart' }, 10_000)).toMatchObject({ type: 'room_left', canvasId: 'restart' });
    expect(await waitFor(c.alice, (f) => f.type === 'presence_leave', 10_000, 'presence_leave of dave on A')).toMatchObject({ userId: 'dave' });

    await d.redis.server!.restart();
    // Redis lost every membership: the state bob gets once both instances re-registered lists
    // alice and him, not dave (a state read before B's re-registration may come first).
    await waitFor(c.bob, stateOf('restart', ['alice', 'bob']), 20_000, 'a presence_state of alice and bob on B');
    await waitFor(c.alice, stateOf('restart', ['alice', 'bob']), 20_000, 'a presence_state of alice and bob on A');
  }, 90_000);
});
