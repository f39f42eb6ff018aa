import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeSocket } from '../../../test/support/domain-fixture.js';
import { InMemoryMembershipStore } from '../../backends/memory/in-memory-membership-store.js';
import type { PresenceMember } from '../../protocol/protocol.types.js';
import { ClientConnection } from '../connections/client-connection.js';
import { LocalRoomRegistry } from '../rooms/local-room.registry.js';
import { roomKey } from '../rooms/room-key.js';
import { PresenceResync } from './presence-resync.js';

/**
 * PresenceResync (issue 16, presence after a Redis outage) on the real in-memory membership
 * store and local room registry: one presence_state per local connection of every room with
 * local members, from one members read per room; passes never overlap and requests made during
 * a pass collapse into one more pass; reads run in bounded concurrency; a failed read costs only
 * its room.
 */

type Conn = ClientConnection & { socket: FakeSocket };

class Rooms {
  readonly membership = new InMemoryMembershipStore();
  readonly local = new LocalRoomRegistry();
  private seq = 0;

  /** A connection of `userId` seated in `canvasIds` (store and local room), as a join leaves it. */
  async member(userId: string, ...canvasIds: string[]): Promise<Conn> {
    const n = ++this.seq;
    const identity = { userId, tenantId: 't1', name: userId.toUpperCase(), expiresAt: Date.now() + 3_600_000 };
    const connection = new ClientConnection(`conn-${n}`, `session-${n}`, identity, '10.0.0.1', new FakeSocket(), Date.now()) as Conn;
    for (const canvasId of canvasIds) {
      await this.membership.join(roomKey('t1', canvasId), { userId, connectionId: connection.id, name: identity.name }, 100);
      this.local.add(roomKey('t1', canvasId), 't1', canvasId, connection);
    }
    return connection;
  }
}

const states = (c: Conn) => c.socket.take().filter((frame) => frame.type === 'presence_state');
const userIds = (members: PresenceMember[]) => members.map((m) => m.userId).sort();

/**
 * Members reads that take their snapshot when called and answer when the test says so, counting
 * reads and how many are in flight at once.
 */
function gatedReads(membership: InMemoryMembershipStore): { pending: Array<() => void>; reads: string[]; maxInFlight: () => number } {
  const read = membership.members.bind(membership);
  const pending: Array<() => void> = [];
  const reads: string[] = [];
  let inFlight = 0;
  let max = 0;
  vi.spyOn(membership, 'members').mockImplementation((key: string) => {
    reads.push(key);
    max = Math.max(max, ++inFlight);
    const snapshot = read(key);
    return new Promise<PresenceMember[]>((resolve, reject) =>
      pending.push(() => {
        inFlight--;
        snapshot.then(resolve, reject);
      }),
    );
  });
  return { pending, reads, maxInFlight: () => max };
}

/** Completes the gated reads (each completion may start the next read) until the resync is idle. */
async function drain(gate: { pending: Array<() => void> }, resync: PresenceResync): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    for (const done of gate.pending.splice(0)) done();
    await new Promise((r) => setImmediate(r));
    if (gate.pending.length === 0) return resync.idle();
  }
  throw new Error('reads never settled');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('PresenceResync', () => {
  it('sends each local connection of each local room one presence_state with the store’s members, remote users included', async () => {
    const r = new Rooms();
    const ann = await r.member('ann', 'c1', 'c2');
    const bob = await r.member('bob', 'c1');
    const cyd = await r.member('cyd', 'c3');
    // A user on another instance: a seat in the shared store, no local connection.
    await r.membership.join(roomKey('t1', 'c1'), { userId: 'zed', connectionId: 'remote-1', name: 'ZED' }, 100);
    const resync = new PresenceResync(r.membership, r.local);

    expect(await resync.pass()).toEqual({ rooms: 3, sent: 4, failed: 0 });

    const annStates = states(ann);
    expect(annStates.map((s) => s.canvasId).sort()).toEqual(['c1', 'c2']);
    const c1 = annStates.find((s) => s.canvasId === 'c1')!;
    expect(c1).toMatchObject({ type: 'presence_state', roomId: 'canvas:c1', canvasId: 'c1' });
    expect([...c1.members].sort((x: PresenceMember, y: PresenceMember) => x.userId.localeCompare(y.userId))).toEqual([
      { userId: 'ann', name: 'ANN', connections: 1 },
      { userId: 'bob', name: 'BOB', connections: 1 },
      { userId: 'zed', name: 'ZED', connections: 1 },
    ]);
    expect(userIds(annStates.find((s) => s.canvasId === 'c2')!.members)).toEqual(['ann']);
    expect(states(bob).map((s) => [s.canvasId, userIds(s.members)])).toEqual([['c1', ['ann', 'bob', 'zed']]]);
    expect(states(cyd).map((s) => [s.canvasId, userIds(s.members)])).toEqual([['c3', ['cyd']]]);
  });

  it('skips a connection whose resume is being set up (the resume sends its own presence_state after the ack)', async () => {
    const r = new Rooms();
    const ann = await r.member('ann', 'c1');
    const bob = await r.member('bob', 'c1');
    bob.held = [];
    const resync = new PresenceResync(r.membership, r.local);

    expect(await resync.pass()).toEqual({ rooms: 1, sent: 1, failed: 0 });
    expect(states(ann)).toHaveLength(1);
    expect(bob.socket.sent).toEqual([]);
  });

  it('requests during a pass make exactly one more pass after it, which reads again', async () => {
    const r = new Rooms();
    const ann = await r.member('ann', 'c1');
    const gate = gatedReads(r.membership);
    const resync = new PresenceResync(r.membership, r.local);

    resync.request();
    expect(gate.reads).toEqual([roomKey('t1', 'c1')]);
    // Three more requests while the first read is in flight (other instances recovering).
    resync.request();
    resync.request();
    resync.request();
    // A change after the first read's snapshot: the second pass carries it.
    const bob = await r.member('bob', 'c1');
    await drain(gate, resync);

    expect(gate.reads).toEqual([roomKey('t1', 'c1'), roomKey('t1', 'c1')]);
    expect(states(ann).map((s) => userIds(s.members))).toEqual([['ann'], ['ann', 'bob']]);
    // bob was in the local room when the first read answered: its last state is the fresh one.
    expect(states(bob).map((s) => userIds(s.members))).toEqual([['ann'], ['ann', 'bob']]);

    // Idle again: the next request starts a pass at once.
    resync.request();
    expect(gate.reads).toHaveLength(3);
    await drain(gate, resync);
  });

  it('reads each room once, at most `concurrency` at a time', async () => {
    const r = new Rooms();
    const canvasIds = Array.from({ length: 40 }, (_, i) => `r${i}`);
    const ann = await r.member('ann', ...canvasIds);
    const gate = gatedReads(r.membership);
    const resync = new PresenceResync(r.membership, r.local, 4);

    resync.request();
    expect(gate.reads).toHaveLength(4);
    await drain(gate, resync);

    expect(gate.maxInFlight()).toBe(4);
    expect([...gate.reads].sort()).toEqual(canvasIds.map((c) => roomKey('t1', c)).sort());
    expect(
      states(ann)
        .map((s) => s.canvasId)
        .sort(),
    ).toEqual([...canvasIds].sort());
  });

  it('a room whose read fails costs only that room; request() never throws', async () => {
    const r = new Rooms();
    const ann = await r.member('ann', 'c1');
    const bob = await r.member('bob', 'c2');
    const read = r.membership.members.bind(r.membership);
    vi.spyOn(r.membership, 'members').mockImplementation((key: string) => (key === roomKey('t1', 'c1') ? Promise.reject(new Error('redis down')) : read(key)));
    const resync = new PresenceResync(r.membership, r.local);

    expect(await resync.pass()).toEqual({ rooms: 2, sent: 1, failed: 1 });
    expect(states(ann)).toEqual([]);
    expect(states(bob)).toHaveLength(1);

    expect(() => resync.request()).not.toThrow();
    await resync.idle();
  });
});
