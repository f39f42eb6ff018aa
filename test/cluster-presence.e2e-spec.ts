import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpLogsOnFailure, startDeployment, takeFrames, uniqueTenant, waitFor, type Deployment } from './support/instance-harness.js';

/**
 * Issue 4, "Presence": presence_state, presence_join and presence_leave reflect the users on
 * every instance; a user with tabs on two instances is one member. Single Redis and Cluster.
 */
describe.each(['single', 'cluster'] as const)('cluster presence on %s Redis', (kind) => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment(kind, 3, {}, { external: true });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  const userIds = (members: Array<{ userId: string }>) => members.map((m) => m.userId).sort();

  it('users on different instances see each other join and leave, and presence_state lists them all', async () => {
    const tenantId = uniqueTenant('pres');
    const [A, B, C] = d.instances;
    const alice = await A.connect({ sub: 'alice', tenantId, name: 'Alice' });
    const bob = await B.connect({ sub: 'bob', tenantId, name: 'Bob' });
    const carol = await C.connect({ sub: 'carol', tenantId });

    await alice.join('p1');
    expect(userIds((await alice.next('presence_state', 10_000)).members)).toEqual(['alice']);

    expect(await bob.join('p1')).toMatchObject({ type: 'room_joined', canvasId: 'p1', pos: expect.any(String) });
    const bobState = await bob.next('presence_state', 10_000);
    expect(bobState.members.sort((x: any, y: any) => x.userId.localeCompare(y.userId))).toEqual([
      { userId: 'alice', name: 'Alice', connections: 1 },
      { userId: 'bob', name: 'Bob', connections: 1 },
    ]);
    expect(await waitFor(alice, (f) => f.type === 'presence_join', 10_000, 'presence_join of bob on A')).toEqual({
      type: 'presence_join',
      roomId: 'canvas:p1',
      canvasId: 'p1',
      member: { userId: 'bob', name: 'Bob', connections: 1 },
    });

    await carol.join('p1');
    expect(userIds((await carol.next('presence_state', 10_000)).members)).toEqual(['alice', 'bob', 'carol']);
    for (const peer of [alice, bob]) {
      const join = await waitFor(peer, (f) => f.type === 'presence_join', 10_000, 'presence_join of carol');
      expect(join.member).toEqual({ userId: 'carol', connections: 1 });
    }

    // A leave on B and a close on C reach the others on the other instances.
    expect(await bob.request({ type: 'leave', canvasId: 'p1' }, 10_000)).toMatchObject({ type: 'room_left', canvasId: 'p1' });
    for (const peer of [alice, carol]) {
      expect(await waitFor(peer, (f) => f.type === 'presence_leave', 10_000, 'presence_leave of bob')).toEqual({
        type: 'presence_leave',
        roomId: 'canvas:p1',
        canvasId: 'p1',
        userId: 'bob',
      });
    }
    await carol.close();
    expect(await waitFor(alice, (f) => f.type === 'presence_leave', 10_000, 'presence_leave of carol')).toMatchObject({ userId: 'carol' });

    // What is left is what a newcomer on yet another instance sees.
    const dave = await B.connect({ sub: 'dave', tenantId });
    await dave.join('p1');
    expect(userIds((await dave.next('presence_state', 10_000)).members)).toEqual(['alice', 'dave']);
    await Promise.all([alice, bob, dave].map((c) => c.close()));
  }, 90_000);

  it('a user with tabs on two instances is one member: one presence_join, no presence_leave until the last tab goes', async () => {
    const tenantId = uniqueTenant('tabs');
    const [A, B, C] = d.instances;
    const watcher = await C.connect({ sub: 'watcher', tenantId });
    await watcher.join('p2');
    await watcher.next('presence_state', 10_000);

    const tab1 = await A.connect({ sub: 'erin', tenantId, name: 'Erin' });
    await tab1.join('p2');
    await tab1.next('presence_state', 10_000);
    expect((await waitFor(watcher, (f) => f.type === 'presence_join', 10_000)).member).toEqual({ userId: 'erin', name: 'Erin', connections: 1 });

    const tab2 = await B.connect({ sub: 'erin', tenantId, name: 'Erin' });
    expect(await tab2.join('p2')).toMatchObject({ type: 'room_joined' });
    const state = await tab2.next('presence_state', 10_000);
    // One member with the tabs of both instances counted.
    expect(state.members.filter((m: any) => m.userId === 'erin')).toEqual([{ userId: 'erin', name: 'Erin', connections: 2 }]);
    expect(userIds(state.members)).toEqual(['erin', 'watcher']);

    // The second tab caused no presence frame for anybody (within a generous window).
    await new Promise((r) => setTimeout(r, 1000));
    expect(takeFrames(watcher, (f) => f.type.startsWith('presence_'))).toEqual([]);
    expect(takeFrames(tab1, (f) => f.type.startsWith('presence_'))).toEqual([]);

    // Closing one of the two tabs: no presence_leave anywhere.
    await tab1.close();
    await new Promise((r) => setTimeout(r, 1000));
    expect(takeFrames(watcher, (f) => f.type.startsWith('presence_'))).toEqual([]);
    expect(takeFrames(tab2, (f) => f.type.startsWith('presence_'))).toEqual([]);
    const probe = await A.connect({ sub: 'probe', tenantId });
    await probe.join('p2');
    const seen = (await probe.next('presence_state', 10_000)).members;
    expect(seen.find((m: any) => m.userId === 'erin')).toEqual({ userId: 'erin', name: 'Erin', connections: 1 });
    await waitFor(watcher, (f) => f.type === 'presence_join' && f.member.userId === 'probe', 10_000);

    // The last tab goes: now the others see erin leave, once.
    await tab2.close();
    expect(await waitFor(watcher, (f) => f.type === 'presence_leave', 10_000, 'presence_leave of erin')).toMatchObject({ userId: 'erin' });
    expect(await waitFor(probe, (f) => f.type === 'presence_leave', 10_000, 'presence_leave of erin')).toMatchObject({ userId: 'erin' });
    await new Promise((r) => setTimeout(r, 500));
    expect(takeFrames(watcher, (f) => f.type === 'presence_leave')).toEqual([]);
    await Promise.all([watcher, probe].map((c) => c.close()));
  }, 90_000);
});
