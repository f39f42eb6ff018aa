import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dumpLogsOnFailure,
  startDeployment,
  takeFrames,
  uniqueTenant,
  until,
  waitFor,
  type ClusterClient,
  type Deployment,
} from './support/instance-harness.js';

/**
 * Issue 4, "Redis unreachable": no instance crashes; open connections stay open; a join
 * answers UNAVAILABLE; messages still reach the room's members on the same instance; new
 * upgrades with a JWT are served; a resume gets 503 UNAVAILABLE with Retry-After; readiness
 * says not ready; when Redis comes back (same port, empty: no persistence) the instances
 * re-register their live memberships without a restart, so presence and capacity are right
 * again within seconds. The steps run in order on one deployment and one Redis of its own.
 */
describe('cluster mode through a Redis outage (single Redis)', () => {
  let d: Deployment;
  let tenantId: string;
  const c: Record<string, ClusterClient> = {};
  let readyEndpoint = true;

  beforeAll(async () => {
    // Capacity 4: after the outage, 3 re-registered users + 1 newcomer fill the room exactly.
    d = await startDeployment('single', 2, { WS_ROOM_CAPACITY: '4', WS_INSTANCE_LEASE_MS: '1500' });
    tenantId = uniqueTenant('outage');
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  it('before: alice and bob on A, carol on B share room o1; erin left a resumable session', async () => {
    const [A, B] = d.instances;
    c.alice = await A.connect({ sub: 'alice', tenantId });
    c.bob = await A.connect({ sub: 'bob', tenantId });
    c.carol = await B.connect({ sub: 'carol', tenantId });
    for (const name of ['alice', 'bob', 'carol']) {
      expect(await c[name].join('o1')).toMatchObject({ type: 'room_joined' });
    }
    const erin = await B.connect({ sub: 'erin', tenantId });
    c.erin = erin;
    await erin.close(1001);
    const ready = await A.get('/health/ready');
    if (ready.status === 404) readyEndpoint = false;
    else expect(ready.status).toBe(200);
  }, 60_000);

  it('during: nothing crashes, connections stay open, joins say UNAVAILABLE, local fan-out works, JWT upgrades served, resumes 503', async () => {
    const [A, B] = d.instances;
    for (const x of Object.values(c)) takeFrames(x, () => true);
    await d.redis.server!.stop();
    await new Promise((r) => setTimeout(r, 1500));

    expect(A.alive && B.alive).toBe(true);
    for (const name of ['alice', 'carol']) {
      c[name].send({ type: 'ping', id: `${name}-ping` });
      expect(await c[name].next('pong', 10_000)).toEqual({ type: 'pong', id: `${name}-ping` });
    }

    // A join cannot be recorded: UNAVAILABLE, echoing the id, and the connection stays.
    c.dave = await A.connect({ sub: 'dave', tenantId });
    expect(c.dave.ack).toMatchObject({ type: 'connection_ack', resumed: false, userId: 'dave' });
    expect(await c.dave.request({ type: 'join', canvasId: 'o2', id: 'j-down' }, 10_000)).toMatchObject({ type: 'error', code: 'UNAVAILABLE', id: 'j-down' });
    expect(await c.carol.request({ type: 'join', canvasId: 'o3', id: 'j-down-b' }, 10_000)).toMatchObject({
      type: 'error',
      code: 'UNAVAILABLE',
      id: 'j-down-b',
    });

    // Messages still reach the members on the same instance.
    c.alice.send({ type: 'message', canvasId: 'o1', data: { during: 'outage' } });
    expect(await c.bob.next('message', 10_000)).toMatchObject({ type: 'message', canvasId: 'o1', from: { userId: 'alice' }, data: { during: 'outage' } });

    // A resume needs the shared session store: 503 UNAVAILABLE with Retry-After.
    const refused = await B.refusal(`?reconnectToken=${encodeURIComponent(c.erin.ack.reconnectToken)}`);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ error: { code: 'UNAVAILABLE', message: expect.any(String) } });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // Still alive after all of that.
    await new Promise((r) => setTimeout(r, 1000));
    expect(A.alive && B.alive).toBe(true);
  }, 60_000);

  it('during: readiness says not ready (GET /health/ready → 503)', async (ctx) => {
    // The /health endpoint belongs to another module; without it there is nothing to check.
    if (!readyEndpoint) ctx.skip();
    const [A, B] = d.instances;
    expect((await A.get('/health/ready')).status).toBe(503);
    expect((await B.get('/health/ready')).status).toBe(503);
    expect((await A.get('/health/live')).status).toBe(200);
  }, 30_000);

  it('after: Redis is back on the same port: joins work again, presence and capacity count the users connected through the outage', async () => {
    const [A, B] = d.instances;
    await d.redis.server!.restart();

    // Joins work again within seconds (poll up to ~15 s).
    let reply: any;
    await until(
      async () => {
        reply = await c.dave.request({ type: 'join', canvasId: 'o2' }, 10_000);
        return reply.type === 'room_joined';
      },
      15_000,
      'a join to succeed after Redis is back',
      500,
    );
    if (readyEndpoint) await until(async () => (await A.get('/health/ready')).status === 200, 15_000, 'A ready again');

    // The users that stayed connected through the outage are members again (Redis restarted
    // empty). A newcomer through B sees them all...
    let members: string[] = [];
    await until(
      async () => {
        const probe = await B.connect({ sub: 'frank', tenantId });
        const r = await probe.request({ type: 'join', canvasId: 'o1' }, 10_000);
        if (r.type === 'room_joined') members = (await probe.next('presence_state', 10_000)).members.map((m: any) => m.userId).sort();
        c.frank = probe;
        if (members.length === 4) return true;
        await probe.close();
        return false;
      },
      15_000,
      `presence of o1 to list alice, bob, carol and frank (last seen: ${members.join(',')})`,
      1000,
    );
    expect(members).toEqual(['alice', 'bob', 'carol', 'frank']);
    // ... and the capacity (4) counts them: the room is full now.
    const gina = await A.connect({ sub: 'gina', tenantId });
    expect(await gina.request({ type: 'join', canvasId: 'o1' }, 10_000)).toMatchObject({ type: 'error', code: 'ROOM_FULL' });

    // Cross-instance fan-out works again: a message from alice (A) reaches carol and frank (B).
    takeFrames(c.carol, () => true);
    await until(
      async () => {
        c.alice.send({ type: 'message', canvasId: 'o1', data: { after: 'outage' } });
        await new Promise((r) => setTimeout(r, 500));
        return c.carol.frames.some((f) => f.type === 'message' && f.data?.after === 'outage');
      },
      15_000,
      'a message from A to reach B after the outage',
      0,
    );
    expect(await waitFor(c.frank, (f) => f.type === 'message' && f.data?.after === 'outage', 10_000)).toMatchObject({ from: { userId: 'alice' } });
    expect(A.alive && B.alive).toBe(true);
  }, 90_000);
});
