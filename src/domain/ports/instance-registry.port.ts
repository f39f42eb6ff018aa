/**
 * Cluster mode's registry of instances: a lease per instance that it renews while alive, and
 * the rooms each instance has local members in, so the survivors can clean up after an
 * instance that died without saying goodbye (see ClusterCoordinator). Only cluster mode has
 * one; a single instance has nobody to tell.
 *
 * Failure mode: every async method rejects while the back-end is unreachable (no queueing);
 * the coordinator re-registers this instance's rooms when the back-end is back.
 */
export interface InstanceRegistry {
  /** Name of the back-end, as readiness and metrics show it (`redis`). */
  readonly backendName: string;
  /** Whether the back-end answers now (cheap: a connection state, no round-trip). */
  isReady(): boolean;
  /**
   * Runs `listener` each time the back-end is reachable again after an outage: all of this
   * instance's connections to it are back (so it neither publishes into nor listens to a
   * half-open bus), whichever of them had dropped.
   */
  onReconnect(listener: () => void): void;
  /**
   * Tells the other instances that this one has just re-registered its memberships after an
   * outage: what it published meanwhile (presence frames on the room bus) was dropped, and what
   * it holds in the stores has changed. At-most-once, like the bus; never throws.
   */
  announceRecovery(): void;
  /** Runs `listener` when another instance announced its recovery (see {@link announceRecovery}). */
  onPeerRecovery(listener: (instanceId: string) => void): void;
  /** Writes this instance's lease until `until` (epoch ms): `created` when it was not there (first write, or purged meanwhile). */
  renewLease(until: number): Promise<'created' | 'renewed'>;
  /** Instances whose lease ran out at or before `now`. */
  expiredInstances(now: number): Promise<string[]>;
  /** Takes the right to purge `instanceId` for `ttlMs`; false when another survivor holds it. */
  claimPurge(instanceId: string, ttlMs: number): Promise<boolean>;
  /** Room keys an instance has (or had, until purged) local members in. */
  roomsOf(instanceId: string): Promise<string[]>;
  /** Records that this instance has local members of `roomKey`. */
  addRoom(roomKey: string): Promise<void>;
  /** Records that this instance has no local member of `roomKey` any more. */
  removeRoom(roomKey: string): Promise<void>;
  /** Forgets a dead instance: its room set, then its lease. */
  forget(instanceId: string): Promise<void>;
  /** Clean shutdown: drops this instance's lease (best effort) and releases the back-end's connections. */
  close(): Promise<void>;
}

/** Injection token of the optional {@link InstanceRegistry} (undefined on a single instance). */
export const InstanceRegistry = Symbol('InstanceRegistry');
