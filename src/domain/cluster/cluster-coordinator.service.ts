import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { CONNECTION_MANAGER_OPTIONS, INSTANCE_ID } from '../../kernel/connection-manager.tokens.js';
import type { PresenceLeaveFrame } from '../../protocol/protocol.types.js';
import { wireRoomId } from '../../protocol/protocol.types.js';
import { ConnectionLifecycleService } from '../connections/connection-lifecycle.service.js';
import { ConnectionService } from '../connections/connection.service.js';
import { ConnectionQuotaStore } from '../ports/connection-quota-store.port.js';
import { InstanceRegistry } from '../ports/instance-registry.port.js';
import { MembershipStore } from '../ports/membership-store.port.js';
import { SessionStore } from '../ports/session-store.port.js';
import { LocalRoomRegistry } from '../rooms/local-room.registry.js';
import { InstanceRoomSet } from './instance-room-set.js';
import { PresenceResync } from './presence-resync.js';
import { parseRoomKey } from '../rooms/room-key.js';
import { RoomService } from '../rooms/room.service.js';
import { SessionService } from '../sessions/session.service.js';
import { errorMessage } from '../../kernel/error-message.js';

/**
 * What happens when an instance of the cluster dies or comes back, so crashes and back-end
 * outages heal by themselves. It talks to the {@link InstanceRegistry} port (Redis in cluster
 * mode) and does nothing without one (a single instance has nobody to tell):
 * - lease: this instance's lease is renewed every `instanceLeaseMs / 3`; each tick also looks
 *   for instances whose lease ran out (killed, never said goodbye). One survivor (the registry's
 *   purge claim) purges a dead instance: its connections leave every room it had, the
 *   survivors broadcast presence_leave for users that left entirely, its seats free up, and its
 *   connected sessions become resumable for the TTL (without replay). Ghosts are gone within
 *   about 1.3 leases.
 * - recovery: when the back-end is reachable again after an outage (or this instance finds its
 *   own lease was purged after a long stall), the instance makes the stores hold exactly its
 *   live memberships (adding missing ones, dropping stale ones) and re-registers its connected
 *   sessions, so presence and capacity are right within seconds. Then the members of every
 *   room get a fresh presence_state (see "presence after an outage" below).
 * Both walk the instance's room set, which {@link InstanceRoomSet} keeps equal to the rooms
 * where the instance has seats (added before a seat is taken, removed after the last is gone).
 * - connection quotas: each tick also renews this instance's lease in the tenants it holds
 *   quota slots in (a dead instance's slots are dropped by the next acquire in the tenant once
 *   its lease is past) and re-registers slots an outage lost; a clean shutdown gives them back.
 * - presence after an outage (issue 16): presence_join/presence_leave published while the bus
 *   was down are lost (pub/sub is at-most-once). Who missed them is not only this instance's
 *   members: a network blip can cut one instance off while Redis and the others stay up, and
 *   then the frames *it* published are lost for the *others'* members, who noticed nothing. So
 *   the recovering instance does two things once its memberships are re-registered: it sends
 *   its own members a fresh presence_state ({@link PresenceResync}: one members read per room,
 *   bounded concurrency), and it announces its recovery on the registry, upon which every other
 *   instance does the same for its members. Each instance reads after the announcer's
 *   re-registration, so after a Redis restart that lost everything (every instance recovers,
 *   one after the other) the last read of each instance follows the last re-registration: the
 *   first instance back reads rooms without the others' users, and the later announcements
 *   make it read again (test/cluster-presence-resync.e2e-spec.ts fails without them).
 *   Publishing the frame itself on each room's bus instead would let a state read early by one
 *   instance overtake a complete one read later by another; and a signal per instance costs one
 *   publish per recovery, not one per room. Like the purge's presence_leave, the frames are
 *   the protocol's own, sent by the domain whatever presence module the host uses.
 */
@Injectable()
export class ClusterCoordinator implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterCoordinator.name);
  private timer: NodeJS.Timeout | undefined;
  /** Whether this instance's lease was written once: a later write that creates it means it was purged. */
  private registered = false;
  /** Fresh presence_state for the local members after an outage (this instance's or another's). */
  private readonly presence: PresenceResync;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @Inject(MembershipStore) private readonly membership: MembershipStore,
    @Inject(SessionStore) private readonly sessionStore: SessionStore,
    @Inject(ConnectionQuotaStore) private readonly quotaStore: ConnectionQuotaStore,
    private readonly local: LocalRoomRegistry,
    private readonly instanceRooms: InstanceRoomSet,
    private readonly rooms: RoomService,
    private readonly connections: ConnectionService,
    private readonly sessions: SessionService,
    private readonly lifecycle: ConnectionLifecycleService,
    @Optional() @Inject(InstanceRegistry) private readonly registry?: InstanceRegistry,
  ) {
    this.presence = new PresenceResync(membership, local);
  }

  /** The back-end the cluster depends on, for readiness checks; undefined on a single instance. */
  get backend(): { name: string; isReady: () => boolean } | undefined {
    const registry = this.registry;
    return registry ? { name: registry.backendName, isReady: () => registry.isReady() } : undefined;
  }

  onApplicationBootstrap(): void {
    const registry = this.registry;
    if (!registry) return;
    registry.onReconnect(() => void this.recover());
    // Another instance was cut off: frames it published to rooms with members here were lost.
    registry.onPeerRecovery(() => this.presence.request());
    void this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(200, Math.floor(this.options.instanceLeaseMs / 3)));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (!this.registry) return;
    // Sockets the adapter terminated last are still being cleaned up: let their writes land.
    await this.lifecycle.idle(2000);
    await this.quotaStore.releaseAll();
    await this.registry.close();
  }

  /** One lease round: renew ours, purge the instances whose lease ran out. */
  private async tick(): Promise<void> {
    const registry = this.registry;
    if (!registry?.isReady()) return;
    try {
      const now = Date.now();
      const lease = await registry.renewLease(now + this.options.instanceLeaseMs);
      if (lease === 'created' && this.registered) {
        // Our lease had run out (a long stall) and a survivor purged us: put our live state back.
        this.logger.warn('lease had expired and this instance was purged; re-registering');
        void this.recover();
      }
      this.registered = true;
      // Its own failure must not hold back the purge of dead instances below.
      await this.quotaStore.renew(now + this.options.instanceLeaseMs).catch((err: unknown) => {
        this.logger.warn(`quota lease renewal failed: ${(err as Error).message}`);
      });
      for (const id of await registry.expiredInstances(now)) if (id !== this.instanceId) await this.purge(id);
    } catch (err) {
      this.logger.warn(`lease tick failed: ${errorMessage(err)}`);
    }
  }

  /** Removes every trace of a dead instance (one survivor does it, under the purge claim). */
  async purge(deadId: string): Promise<void> {
    const registry = this.registry!;
    if (!(await registry.claimPurge(deadId, this.options.instanceLeaseMs))) return;
    const roomKeys = await registry.roomsOf(deadId);
    let users = 0;
    for (const key of roomKeys) {
      for (const userId of await this.membership.resync(key, deadId, [])) {
        this.rooms.broadcastToRoomKey(key, presenceLeave(key, userId));
        users++;
      }
    }
    const sessions = await this.sessionStore.orphan(deadId);
    await registry.forget(deadId);
    this.logger.warn(`purged dead instance ${deadId}: ${roomKeys.length} rooms, ${users} users left, ${sessions} sessions orphaned`);
  }

  /**
   * After an outage: the stores get exactly this instance's live memberships and sessions back.
   * The instance's room set ends up as the rooms where it holds seats (InstanceRoomSet).
   */
  async recover(): Promise<void> {
    const registry = this.registry!;
    try {
      const known = new Set([...(await registry.roomsOf(this.instanceId)), ...this.local.keys(), ...this.instanceRooms.keys()]);
      for (const key of known) {
        const room = this.local.get(key);
        const live = room ? [...room.connections].map((c) => ({ connectionId: c.id, userId: c.userId, name: c.identity.name })) : [];
        await this.membership.resync(key, this.instanceId, live);
        if (live.length > 0 || this.instanceRooms.holds(key)) await registry.addRoom(key);
        else await registry.removeRoom(key);
      }
      // Our memberships are in the store again: now presence read anywhere includes them.
      registry.announceRecovery();
      this.presence.request();
      for (const connection of this.connections.all()) await this.sessions.reactivate(connection);
      await this.tick();
      this.logger.log(`re-registered ${known.size} rooms and ${this.connections.count} sessions after a back-end outage`);
    } catch (err) {
      // A failure here means the back-end went away again: its next reconnect runs this again.
      this.logger.warn(`re-registration failed, retrying on the next reconnect: ${errorMessage(err)}`);
    }
  }
}

function presenceLeave(roomKey: string, userId: string): PresenceLeaveFrame {
  const { canvasId } = parseRoomKey(roomKey);
  return { type: 'presence_leave', roomId: wireRoomId(canvasId), canvasId, userId };
}
