import { describe, expect, it } from 'vitest';
import type { InstanceRegistry } from '../ports/instance-registry.port.js';
import { InstanceRoomSet } from './instance-room-set.js';

/**
 * A registry that applies addRoom/removeRoom in call order (as Redis does for one connection)
 * and lets the test decide when each call completes.
 */
class OrderedRegistry {
  readonly rooms = new Set<string>();
  readonly calls: string[] = [];
  private readonly pending: Array<() => void> = [];
  fail = false;

  addRoom(key: string): Promise<void> {
    this.calls.push(`add ${key}`);
    return this.apply(() => this.rooms.add(key));
  }
  removeRoom(key: string): Promise<void> {
    this.calls.push(`remove ${key}`);
    return this.apply(() => this.rooms.delete(key));
  }
  /** Completes every call made so far, in order. */
  flush(): void {
    for (const done of this.pending.splice(0)) done();
  }
  private apply(change: () => void): Promise<void> {
    return new Promise((resolve, reject) =>
      this.pending.push(() => {
        if (this.fail) return reject(new Error('redis down'));
        change();
        resolve();
      }),
    );
  }
}

function setUp(): { registry: OrderedRegistry; set: InstanceRoomSet } {
  const registry = new OrderedRegistry();
  return { registry, set: new InstanceRoomSet(registry as unknown as InstanceRegistry) };
}

describe('InstanceRoomSet', () => {
  it('on a single instance (no registry) there is nothing to wait for and nothing is counted', () => {
    const set = new InstanceRoomSet();
    expect(set.acquire('r')).toBeUndefined();
    expect(set.holds('r')).toBe(false);
    set.release('r');
  });

  it('a reservation waits until the room is in the registry', async () => {
    const { registry, set } = setUp();
    let added = false;
    const acquired = set.acquire('r')!.then(() => (added = registry.rooms.has('r')));
    await Promise.resolve();
    expect(added).toBe(false);
    registry.flush();
    await acquired;
    expect(added).toBe(true);
  });

  it('the room stays while any seat is held or being reserved, and goes after the last release', async () => {
    const { registry, set } = setUp();
    const a = set.acquire('r');
    const b = set.acquire('r'); // a second seat while the first add is in flight: one add only
    registry.flush();
    await Promise.all([a, b]);
    expect(registry.calls).toEqual(['add r']);
    set.release('r');
    expect(registry.calls).toEqual(['add r']);
    set.release('r');
    registry.flush();
    expect(registry.calls).toEqual(['add r', 'remove r']);
    expect(registry.rooms.has('r')).toBe(false);
    expect(set.holds('r')).toBe(false);
  });

  it('a join racing the removal of the same room keeps it: the re-add is issued after the remove', async () => {
    const { registry, set } = setUp();
    const first = set.acquire('r');
    registry.flush();
    await first;
    set.release('r'); // last seat: remove issued, not yet applied
    const again = set.acquire('r'); // a join of the same room, at once
    registry.flush();
    await again;
    expect(registry.calls).toEqual(['add r', 'remove r', 'add r']);
    expect(registry.rooms.has('r')).toBe(true);
    expect(set.holds('r')).toBe(true);
  });

  it('a seat whose release the store could not confirm keeps the room listed (for recovery)', async () => {
    const { registry, set } = setUp();
    const first = set.acquire('r');
    registry.flush();
    await first;
    set.release('r', { seatMayRemain: true });
    registry.flush();
    expect(registry.calls).toEqual(['add r']);
    expect(registry.rooms.has('r')).toBe(true);
    expect(set.holds('r')).toBe(false);
  });

  it('when the registry cannot record the room the reservation fails, and its release drops the count', async () => {
    const { registry, set } = setUp();
    registry.fail = true;
    const acquired = set.acquire('r');
    registry.flush();
    await expect(acquired).rejects.toThrow('redis down');
    set.release('r');
    expect(set.holds('r')).toBe(false);
  });

  it('does nothing without a registry (a single instance)', async () => {
    const set = new InstanceRoomSet(undefined);
    await set.acquire('r');
    set.release('r');
    expect(set.holds('r')).toBe(false);
  });
});
