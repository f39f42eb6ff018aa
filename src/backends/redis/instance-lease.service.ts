import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { CONNECTION_MANAGER_OPTIONS, INSTANCE_ID } from '../../connection-manager/connection-manager.constants.js';
import type { ResolvedConnectionManagerOptions } from '../../connection-manager/connection-manager.options.js';
import { ConnectionManagerEvent, type RoomJoinedEvent } from '../../connection-manager/connection-manager.events.js';
import { ConnectionLifecycleService } from '../../domain/connections/connection-lifecycle.service.js';
import { ConnectionService } from '../../domain/connections/connection.service.js';
import { LocalRoomRegistry } from '../../domain/rooms/local-room.registry.js';
import { parseRoomKey } from '../../domain/rooms/room-key.js';
import { RoomService } from '../../domain/rooms/room.service.js';
import { SessionService } from '../../domain/sessions/session.service.js';
import type { PresenceLeaveFrame } from '../../protocol/protocol.types.js';
import { wireRoomId } from '../../protocol/protocol.types.js';
import { MembershipStore } from '../membership/membership-store.interface.js';
import { SessionStore } from '../session/session-store.interface.js';
import { REDIS_CONNECTIONS, type RedisConnections } from './redis-connections.js';
import type { RedisMembershipStore } from './redis-membership-store.js';
import type { RedisSessionStore } from './redis-session-store.js';

/**
 * Cluster mode bookkeeping that makes crashes and Redis outages heal by themselves:
 * - lease: this instance's entry in `cm:instances` (a sorted set scored by expiry) is renewed
 *   every `instanceLeaseMs / 3`; each tick also looks for instances whose lease ran out
 *   (killed, never said goodbye). One survivor (a SET NX lock) purges a dead instance: its
 *   connections leave every room it had (`cm:instance:<id>:rooms`), the survivors broadcast
 *   presence_leave for users that left entirely, its seats free up, and its connected sessions
 *   become resumable for the TTL (without replay). Ghosts are gone within about 1.3 leases.
 * - recovery: when the command connection is ready again after an outage, the instance makes
 *   Redis hold exactly its live memberships (adding missing ones, dropping stale ones) and
 *   re-registers its connected sessions, so presence and capacity are right within seconds.
 * In memory mode (no Redis) it does nothing: there is no other instance to tell.
 */
@Injectable()
export class InstanceLeaseService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ConnectionManager');
  private timer: NodeJS.Timeout | undefined;
  private wasDown = false;
  /** Whether this instance's lease was written once: a later ZADD that adds it means it was purged. */
  private registered = false;
  private readonly prefix: string;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @Inject(MembershipStore) private readonly membership: MembershipStore,
    @Inject(SessionStore) private readonly sessionStore: SessionStore,
    private readonly local: LocalRoomRegistry,
    private readonly rooms: RoomService,
    private readonly connections: ConnectionService,
    private readonly sessions: SessionService,
    private readonly lifecycle: ConnectionLifecycleService,
    @Optional() @Inject(REDIS_CONNECTIONS) private readonly redis?: RedisConnections,
  ) {
    this.prefix = options.redis?.keyPrefix ?? 'cm';
  }

  private get instancesKey(): string {
    return `${this.prefix}:instances`;
  }
  private roomsKey(instanceId = this.instanceId): string {
    return `${this.prefix}:instance:${instanceId}:rooms`;
  }

  onApplicationBootstrap(): void {
    if (!this.redis) return;
    const command = this.redis.command;
    command.on('error', () => undefined); // reported through status and readiness, not crashes
    this.redis.subscriber.on('error', () => undefined);
    command.on('end', () => (this.wasDown = true));
    command.on('close', () => (this.wasDown = true));
    command.on('ready', () => {
      if (!this.wasDown) return;
      this.wasDown = false;
      void this.recover();
    });
    void this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(200, Math.floor(this.options.instanceLeaseMs / 3)));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (!this.redis) return;
    // Sockets the adapter terminated last are still being cleaned up: let their writes land.
    await this.lifecycle.idle(2000);
    try {
      await this.redis.command.zrem(this.instancesKey, this.instanceId);
    } catch {
      // Redis is down: the lease simply runs out.
    }
    this.redis.command.disconnect();
    this.redis.subscriber.disconnect();
  }

  /** Whether Redis answers (what readiness reports in cluster mode). Always true in memory mode. */
  get redisReady(): boolean {
    return !this.redis || this.redis.command.status === 'ready';
  }

  @OnEvent(ConnectionManagerEvent.RoomJoined)
  onRoomJoined(event: RoomJoinedEvent): void {
    this.redis?.command.sadd(this.roomsKey(), event.roomKey).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (!this.redis || this.redis.command.status !== 'ready') return;
    try {
      const now = Date.now();
      const added = await this.redis.command.zadd(this.instancesKey, now + this.options.instanceLeaseMs, this.instanceId);
      if (Number(added) === 1 && this.registered) {
        // Our lease had run out (a long stall) and a survivor purged us: put our live state back.
        this.logger.warn('lease had expired and this instance was purged; re-registering');
        void this.recover();
      }
      this.registered = true;
      const dead = await this.redis.command.zrangebyscore(this.instancesKey, '-inf', now);
      for (const id of dead) if (id !== this.instanceId) await this.purge(id);
    } catch (err) {
      this.logger.warn(`lease tick failed: ${(err as Error).message}`);
    }
  }

  /** Removes every trace of a dead instance (one survivor does it, under a lock). */
  async purge(deadId: string): Promise<void> {
    const command = this.redis!.command;
    const lock = await command.set(`${this.prefix}:purge:${deadId}`, this.instanceId, 'PX', this.options.instanceLeaseMs, 'NX');
    if (lock !== 'OK') return;
    const roomKeys = await command.smembers(this.roomsKey(deadId));
    let users = 0;
    for (const key of roomKeys) {
      const gone = await (this.membership as RedisMembershipStore).resync(key, deadId, []);
      const { canvasId } = parseRoomKey(key);
      for (const userId of gone) {
        const frame: PresenceLeaveFrame = { type: 'presence_leave', roomId: wireRoomId(canvasId), canvasId, userId };
        this.rooms.broadcastToRoomKey(key, frame);
        users++;
      }
    }
    const sessions = await (this.sessionStore as RedisSessionStore).orphan(deadId);
    await command.del(this.roomsKey(deadId));
    await command.zrem(this.instancesKey, deadId);
    this.logger.warn(`purged dead instance ${deadId}: ${roomKeys.length} rooms, ${users} users left, ${sessions} sessions orphaned`);
  }

  /** After an outage: Redis gets exactly this instance's live memberships and sessions back. */
  async recover(): Promise<void> {
    try {
      const store = this.membership as RedisMembershipStore;
      const command = this.redis!.command;
      const known = new Set([...(await command.smembers(this.roomsKey())), ...this.local.keys()]);
      for (const key of known) {
        const room = this.local.get(key);
        const live = room ? [...room.connections].map((c) => ({ connectionId: c.id, userId: c.userId, name: c.identity.name })) : [];
        await store.resync(key, this.instanceId, live);
        if (live.length > 0) await command.sadd(this.roomsKey(), key);
        else await command.srem(this.roomsKey(), key);
      }
      for (const connection of this.connections.all()) await this.sessions.reactivate(connection);
      await this.tick();
      this.logger.log(`re-registered ${known.size} rooms and ${this.connections.count} sessions after a Redis outage`);
    } catch (err) {
      this.logger.warn(`re-registration failed, retrying on the next reconnect: ${(err as Error).message}`);
      this.wasDown = true;
    }
  }
}
