import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dumpLogsOnFailure, startDeployment, uniqueTenant, until, type AppInstance, type ClusterClient, type Deployment } from './support/instance-harness.js';

/**
 * Issue 12 §4, cluster mode on a real Redis:
 * - the instance's room set (`cm:instance:<id>:rooms`) holds exactly the rooms where the instance
 *   has seats: a room leaves it when its last local seat is released (before: never), so purge
 *   and recovery walk only live rooms;
 * - a room is in that set before the instance's seat exists in the membership store (a crash in
 *   between must not leave a seat no purge would find), checked on Redis's own command log;
 * - a session's room list is a Redis set of its own (`cm:session:{id}:rooms`): a join or leave is
 *   one O(1) write instead of a rewrite of the session record with the whole list, so the
 *   bytes Redis receives per join do not grow with the rooms a session is in; and the list
 *   survives a crash of the instance (resume elsewhere restores it). On a Redis Cluster the set
 *   shares the record's slot (`{sessionId}`): the scripts and the read touch one node.
 */

const LEASE_MS = 1500;

describe('cluster room sets on single Redis', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('single', 2, { WS_INSTANCE_LEASE_MS: String(LEASE_MS), WS_MAX_ROOMS_PER_CONNECTION: '250', WS_RECONNECT_TOKEN_TTL_MS: '60000' });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);
  beforeEach(async () => {
    for (const inst of d.instances) if (!inst.alive) await inst.restart();
  }, 120_000);

  const cli = async (...args: string[]) => (await d.redis.onEveryNode(args))[0].trim();
  const members = async (key: string) =>
    (await cli('SMEMBERS', key))
      .split('\n')
      .filter((l) => l.length > 0)
      .sort();
  const roomKey = (tenantId: string, canvasId: string) => `canvas:${canvasId}@${tenantId}`;
  const instanceRooms = (id: string) => `${d.prefix}:instance:${id}:rooms`;

  /** The instance id of `instance`: the one whose room set gets a probe room joined there. */
  async function instanceIdOf(instance: AppInstance): Promise<string> {
    const tenantId = uniqueTenant('probe');
    const probe = await instance.connect({ sub: 'probe', tenantId });
    await probe.join('probe');
    const key = roomKey(tenantId, 'probe');
    let id: string | undefined;
    await until(
      async () => {
        const sets = (await cli('--scan', '--pattern', `${d.prefix}:instance:*:rooms`)).split('\n').filter((l) => l.length > 0);
        for (const set of sets) if ((await cli('SISMEMBER', set, key)) === '1') id = set.slice(`${d.prefix}:instance:`.length, -':rooms'.length);
        return id !== undefined;
      },
      10_000,
      'the probe room in an instance set',
    );
    await probe.close();
    return id!;
  }

  /** A request, then a ping: the pong proves the request's store writes were issued. */
  async function settled(client: ClusterClient, frame: Record<string, unknown>): Promise<void> {
    await client.request(frame, 10_000);
    await client.request({ type: 'ping' }, 10_000);
  }

  it('the instance room set holds the rooms with local seats, and drops a room when its last local seat goes', async () => {
    const [A] = d.instances;
    const id = await instanceIdOf(A);
    await until(async () => (await members(instanceRooms(id))).length === 0, 10_000, 'the probe room dropped');
    const tenantId = uniqueTenant('live');
    const alice = await A.connect({ sub: 'alice', tenantId });
    const bob = await A.connect({ sub: 'bob', tenantId });
    await settled(alice, { type: 'join', canvasId: 'r1' });
    await settled(alice, { type: 'join', canvasId: 'r2' });
    await settled(bob, { type: 'join', canvasId: 'r2' });
    // The SADD completes before the seat is taken, so before room_joined: no wait needed.
    expect(await members(instanceRooms(id))).toEqual([roomKey(tenantId, 'r1'), roomKey(tenantId, 'r2')].sort());

    await settled(alice, { type: 'leave', canvasId: 'r1' });
    // The SREM follows the seat's release (not awaited by the reply): wait for it.
    await until(async () => (await members(instanceRooms(id))).join() === roomKey(tenantId, 'r2'), 10_000, 'r1 dropped from the instance set');
    // bob still holds a seat in r2: alice's leave keeps it.
    await settled(alice, { type: 'leave', canvasId: 'r2' });
    expect(await members(instanceRooms(id))).toEqual([roomKey(tenantId, 'r2')]);
    // A repeated join takes no second seat: one leave still empties the room.
    await settled(bob, { type: 'join', canvasId: 'r2' });
    await settled(bob, { type: 'leave', canvasId: 'r2' });
    await until(async () => (await members(instanceRooms(id))).length === 0, 10_000, 'r2 dropped from the instance set');
    // A close releases seats too.
    await settled(bob, { type: 'join', canvasId: 'r3' });
    expect(await members(instanceRooms(id))).toEqual([roomKey(tenantId, 'r3')]);
    await bob.close();
    await until(async () => (await members(instanceRooms(id))).length === 0, 10_000, 'r3 dropped after the close');
    expect(await cli('HLEN', `${d.prefix}:{${roomKey(tenantId, 'r3')}}:conns`)).toBe('0');
    await alice.close();
  }, 90_000);

  it('a room is in the instance set before the seat is taken, and leaves it only after the seat is gone (Redis MONITOR)', async () => {
    const [, B] = d.instances;
    const id = await instanceIdOf(B);
    const tenantId = uniqueTenant('order');
    const key = roomKey(tenantId, 'ordered');
    const client = await B.connect({ sub: 'carol', tenantId });
    const monitor = spawn(process.env.REDIS_CLI_BIN ?? 'redis-cli', ['-h', d.redis.nodes[0].host, '-p', String(d.redis.nodes[0].port), 'MONITOR']);
    let log = '';
    monitor.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      await until(() => log.includes('OK'), 10_000, 'MONITOR to start');
      await settled(client, { type: 'join', canvasId: 'ordered' });
      await settled(client, { type: 'leave', canvasId: 'ordered' });
      await until(() => log.includes(`"srem" "${instanceRooms(id)}"`), 10_000, 'the SREM in the command log');
    } finally {
      monitor.kill();
    }
    const lines = log.split('\n');
    /** Index of the first line from `from` on that matches. */
    const at = (pred: (l: string) => boolean, what: string, from = 0) => {
      const i = lines.findIndex((l, n) => n >= from && pred(l));
      expect(i, what).toBeGreaterThanOrEqual(0);
      return i;
    };
    const conns = `${d.prefix}:{${key}}:conns`;
    const added = at((l) => l.includes(`"sadd" "${instanceRooms(id)}" "${key}"`), 'SADD to the instance set');
    const script = (l: string) => /"eval(sha)?"/i.test(l) && l.includes(`"${conns}"`);
    const joined = at(script, 'the join script');
    const left = at(script, 'the leave script', joined + 1);
    const removed = at((l) => l.includes(`"srem" "${instanceRooms(id)}" "${key}"`), 'SREM from the instance set');
    expect(added).toBeLessThan(joined);
    expect(left).toBeLessThan(removed);
    await client.close();
  }, 60_000);

  it('bytes Redis receives per join do not grow with the rooms the session is in (200 rooms)', async () => {
    const [, B] = d.instances;
    const tenantId = uniqueTenant('bytes');
    const client = await B.connect({ sub: 'dave', tenantId });
    const net = async () => {
      const info = await cli('INFO', 'stats');
      return { in: Number(/total_net_input_bytes:(\d+)/.exec(info)![1]), out: Number(/total_net_output_bytes:(\d+)/.exec(info)![1]) };
    };
    const bytes: number[] = [];
    const sent: number[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const before = await net();
      for (let i = 0; i < 50; i++) await client.request({ type: 'join', canvasId: `room-${String(batch * 50 + i).padStart(3, '0')}` }, 10_000);
      await client.request({ type: 'ping' }, 10_000);
      const after = await net();
      bytes.push(Math.round((after.in - before.in) / 50));
      sent.push(Math.round((after.out - before.out) / 50));
    }
    console.log(
      `[cluster-room-sets] bytes per join, rooms 1-50 / 51-100 / 101-150 / 151-200: received by Redis ${bytes.join(' / ')}; sent by Redis ${sent.join(' / ')}`,
    );
    // O(1): the 151st–200th joins cost what the first ones did (a margin for lease renewals and
    // the INFO calls themselves). Before: the whole room list was rewritten on every join.
    expect(bytes[3]).toBeLessThan(bytes[0] * 1.25 + 32);
    // The session's list is a set of its own, complete.
    expect(await cli('SCARD', `${d.prefix}:session:{${client.ack.sessionId}}:rooms`)).toBe('200');
    await client.close();
  }, 120_000);

  it('a session room list changed by joins and leaves survives a crash: resumed on another instance with exactly those rooms', async () => {
    const [A, B] = d.instances;
    const tenantId = uniqueTenant('crash');
    const alice = await A.connect({ sub: 'alice', tenantId });
    for (const c of ['r1', 'r2', 'r3']) await settled(alice, { type: 'join', canvasId: c });
    await settled(alice, { type: 'leave', canvasId: 'r2' });
    await settled(alice, { type: 'join', canvasId: 'r4' });
    const sessionRooms = `${d.prefix}:session:{${alice.ack.sessionId}}:rooms`;
    await until(async () => (await members(sessionRooms)).join() === 'r1,r3,r4', 10_000, "the session's room set");
    // Connected: no TTL on the record nor on its room set.
    expect(await cli('PTTL', sessionRooms)).toBe('-1');

    await A.stop('SIGKILL');
    // B purges A (its lease runs out): the session is orphaned, resumable for the TTL.
    await until(async () => Number(await cli('ZCARD', `${d.prefix}:instances`)) === 1, 15_000, 'the purge of the killed instance');
    await until(async () => Number(await cli('PTTL', sessionRooms)) > 0, 10_000, 'the orphaned room set to get the TTL');

    const back = await B.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ type: 'connection_ack', resumed: true, sessionId: alice.ack.sessionId, missed: 'truncated' });
    expect([...back.ack.rooms].sort()).toEqual(['r1', 'r3', 'r4']);
    // Connected again: the set is current and has no TTL.
    await until(
      async () => (await cli('PTTL', sessionRooms)) === '-1' && (await members(sessionRooms)).join() === 'r1,r3,r4',
      10_000,
      'the set of the resumed session',
    );
    await back.close();
  }, 120_000);
});

describe('session room sets on a Redis Cluster', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('cluster', 2, { WS_RECONNECT_TOKEN_TTL_MS: '60000' });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  it('joins and leaves update the room set in the session slot; a drop resumes elsewhere with those rooms', async () => {
    const [A, B] = d.instances;
    const tenantId = uniqueTenant('slot');
    const alice = await A.connect({ sub: 'alice', tenantId });
    for (const c of ['r1', 'r2', 'r3']) expect(await alice.join(c)).toMatchObject({ type: 'room_joined' });
    expect(await alice.request({ type: 'leave', canvasId: 'r2' }, 10_000)).toMatchObject({ type: 'room_left' });
    const key = `${d.prefix}:session:{${alice.ack.sessionId}}:rooms`;
    await until(
      async () => (await d.redis.onEveryNode(['SMEMBERS', key])).some((out) => out.split('\n').filter(Boolean).sort().join() === 'r1,r3'),
      10_000,
      'the session room set on its node',
    );
    // The network drops (no close frame): a resumable close, the session goes away with its rooms.
    alice.ws.terminate();
    const back = await B.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ type: 'connection_ack', resumed: true, sessionId: alice.ack.sessionId });
    expect([...back.ack.rooms].sort()).toEqual(['r1', 'r3']);
    await back.close();
  }, 90_000);
});
