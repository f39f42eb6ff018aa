import { beforeEach, describe, expect, it } from 'vitest';
import { InMemoryMembershipStore } from './in-memory-membership-store.js';

const ROOM = 'canvas:c1@t1';

describe('InMemoryMembershipStore', () => {
  let store: InMemoryMembershipStore;
  beforeEach(() => {
    store = new InMemoryMembershipStore();
  });

  it('a first join creates the room and reports the first connection of the user', async () => {
    const result = await store.join(ROOM, { userId: 'u1', connectionId: 'k1', name: 'Ann' }, 100);
    expect(result).toEqual({
      ok: true,
      alreadyJoined: false,
      firstConnectionOfUser: true,
      member: { userId: 'u1', name: 'Ann', connections: 1 },
      members: [{ userId: 'u1', name: 'Ann', connections: 1 }],
    });
    expect(store.roomCount).toBe(1);
  });

  it('a second connection of the same user is not the first and counts as one more tab', async () => {
    await store.join(ROOM, { userId: 'u1', connectionId: 'k1', name: 'Ann' }, 100);
    const result = await store.join(ROOM, { userId: 'u1', connectionId: 'k2', name: 'Ann' }, 100);
    expect(result).toEqual({
      ok: true,
      alreadyJoined: false,
      firstConnectionOfUser: false,
      member: { userId: 'u1', name: 'Ann', connections: 2 },
      members: [{ userId: 'u1', name: 'Ann', connections: 2 }],
    });
  });

  it('joining again with the same connection changes nothing and says so', async () => {
    await store.join(ROOM, { userId: 'u1', connectionId: 'k1' }, 100);
    const again = await store.join(ROOM, { userId: 'u1', connectionId: 'k1' }, 100);
    expect(again).toEqual({
      ok: true,
      alreadyJoined: true,
      firstConnectionOfUser: false,
      member: { userId: 'u1', connections: 1 },
      members: [{ userId: 'u1', connections: 1 }],
    });
    // one leave removes it
    expect(await store.leave(ROOM, 'u1', 'k1')).toEqual({ removed: true, lastConnectionOfUser: true });
    expect(await store.members(ROOM)).toEqual([]);
  });

  it('a member without a name has no name key at all', async () => {
    const result = await store.join(ROOM, { userId: 'u1', connectionId: 'k1' }, 100);
    expect(result.ok && Object.keys(result.member)).toEqual(['userId', 'connections']);
    const [member] = await store.members(ROOM);
    expect(member).not.toHaveProperty('name');
  });

  it('members is a snapshot: one entry per distinct user with its connection count', async () => {
    await store.join(ROOM, { userId: 'u1', connectionId: 'k1', name: 'Ann' }, 100);
    await store.join(ROOM, { userId: 'u2', connectionId: 'k2' }, 100);
    await store.join(ROOM, { userId: 'u2', connectionId: 'k3' }, 100);
    const snapshot = await store.members(ROOM);
    expect(snapshot).toEqual([
      { userId: 'u1', name: 'Ann', connections: 1 },
      { userId: 'u2', connections: 2 },
    ]);
    // later changes do not alter a snapshot already taken
    await store.leave(ROOM, 'u1', 'k1');
    expect(snapshot).toHaveLength(2);
    expect(snapshot[0]).toEqual({ userId: 'u1', name: 'Ann', connections: 1 });
    snapshot.pop();
    expect(await store.members(ROOM)).toEqual([{ userId: 'u2', connections: 2 }]);
  });

  it("capacity counts distinct users: a new user is refused when full, a member's extra tab is not", async () => {
    expect((await store.join(ROOM, { userId: 'u1', connectionId: 'k1' }, 2)).ok).toBe(true);
    expect((await store.join(ROOM, { userId: 'u2', connectionId: 'k2' }, 2)).ok).toBe(true);
    expect(await store.join(ROOM, { userId: 'u3', connectionId: 'k3' }, 2)).toEqual({ ok: false, reason: 'full' });
    const tab = await store.join(ROOM, { userId: 'u1', connectionId: 'k4' }, 2);
    expect(tab).toMatchObject({ ok: true, firstConnectionOfUser: false, member: { userId: 'u1', connections: 2 } });
    // the refused user was not added
    expect((await store.members(ROOM)).map((m) => m.userId)).toEqual(['u1', 'u2']);
  });

  it("a freed seat is reusable, but only once the user's last connection left", async () => {
    await store.join(ROOM, { userId: 'u1', connectionId: 'k1' }, 1);
    await store.join(ROOM, { userId: 'u1', connectionId: 'k2' }, 1);
    await store.leave(ROOM, 'u1', 'k1');
    expect(await store.join(ROOM, { userId: 'u2', connectionId: 'k3' }, 1)).toEqual({ ok: false, reason: 'full' });
    await store.leave(ROOM, 'u1', 'k2');
    expect(await store.join(ROOM, { userId: 'u2', connectionId: 'k3' }, 1)).toMatchObject({ ok: true, firstConnectionOfUser: true });
  });

  it('capacity is per room', async () => {
    await store.join('canvas:a@t1', { userId: 'u1', connectionId: 'k1' }, 1);
    expect((await store.join('canvas:b@t1', { userId: 'u2', connectionId: 'k2' }, 1)).ok).toBe(true);
    expect((await store.join('canvas:a@t2', { userId: 'u2', connectionId: 'k3' }, 1)).ok).toBe(true);
  });

  it('leave reports the last connection of a user only when no tab of it remains', async () => {
    await store.join(ROOM, { userId: 'u1', connectionId: 'k1' }, 100);
    await store.join(ROOM, { userId: 'u1', connectionId: 'k2' }, 100);
    await store.join(ROOM, { userId: 'u2', connectionId: 'k3' }, 100);
    expect(await store.leave(ROOM, 'u1', 'k1')).toEqual({ removed: true, lastConnectionOfUser: false });
    expect(await store.members(ROOM)).toEqual([
      { userId: 'u1', connections: 1 },
      { userId: 'u2', connections: 1 },
    ]);
    expect(await store.leave(ROOM, 'u1', 'k2')).toEqual({ removed: true, lastConnectionOfUser: true });
    expect(await store.members(ROOM)).toEqual([{ userId: 'u2', connections: 1 }]);
  });

  it('leave of something not there removes nothing', async () => {
    expect(await store.leave(ROOM, 'u1', 'k1')).toEqual({ removed: false, lastConnectionOfUser: false });
    await store.join(ROOM, { userId: 'u1', connectionId: 'k1' }, 100);
    expect(await store.leave(ROOM, 'u1', 'other')).toEqual({ removed: false, lastConnectionOfUser: false });
    expect(await store.leave(ROOM, 'u2', 'k1')).toEqual({ removed: false, lastConnectionOfUser: false });
    expect(await store.leave('canvas:c2@t1', 'u1', 'k1')).toEqual({ removed: false, lastConnectionOfUser: false });
    expect(await store.members(ROOM)).toEqual([{ userId: 'u1', connections: 1 }]);
    // a second leave of the same connection is a no-op
    expect(await store.leave(ROOM, 'u1', 'k1')).toEqual({ removed: true, lastConnectionOfUser: true });
    expect(await store.leave(ROOM, 'u1', 'k1')).toEqual({ removed: false, lastConnectionOfUser: false });
  });

  it('an empty room is removed at once', async () => {
    await store.join(ROOM, { userId: 'u1', connectionId: 'k1' }, 100);
    await store.join('canvas:c2@t1', { userId: 'u1', connectionId: 'k1' }, 100);
    expect(store.roomCount).toBe(2);
    await store.leave(ROOM, 'u1', 'k1');
    expect(store.roomCount).toBe(1);
    expect(await store.members(ROOM)).toEqual([]);
    await store.leave('canvas:c2@t1', 'u1', 'k1');
    expect(store.roomCount).toBe(0);
  });

  it('the latest name of a user wins; a join without a name keeps the known one', async () => {
    await store.join(ROOM, { userId: 'u1', connectionId: 'k1', name: 'Ann' }, 100);
    const renamed = await store.join(ROOM, { userId: 'u1', connectionId: 'k2', name: 'Annie' }, 100);
    expect(renamed).toMatchObject({ member: { userId: 'u1', name: 'Annie', connections: 2 } });
    const unnamed = await store.join(ROOM, { userId: 'u1', connectionId: 'k3' }, 100);
    expect(unnamed).toMatchObject({ member: { userId: 'u1', name: 'Annie', connections: 3 } });
    expect(await store.members(ROOM)).toEqual([{ userId: 'u1', name: 'Annie', connections: 3 }]);
  });

  it('the same userId in two rooms (e.g. two tenants) is two separate seats', async () => {
    await store.join('canvas:c1@t1', { userId: 'u1', connectionId: 'k1', name: 'A' }, 100);
    const other = await store.join('canvas:c1@t2', { userId: 'u1', connectionId: 'k2', name: 'B' }, 100);
    expect(other).toMatchObject({ firstConnectionOfUser: true, members: [{ userId: 'u1', name: 'B', connections: 1 }] });
    expect(await store.members('canvas:c1@t1')).toEqual([{ userId: 'u1', name: 'A', connections: 1 }]);
  });

  it('concurrent joins never exceed capacity', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.join(ROOM, { userId: `u${i}`, connectionId: `k${i}` }, 5)));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    expect(await store.members(ROOM)).toHaveLength(5);
  });
});
