import { Logger } from '@nestjs/common';
import type { InstanceRegistry } from '../../domain/ports/instance-registry.port.js';
import type { RedisConnections } from './redis-connections.js';

/**
 * {@link InstanceRegistry} on Redis. Keys (prefix `cm`):
 * - `cm:instances`: sorted set, member = instance id, score = lease expiry (epoch ms);
 * - `cm:instance:<id>:rooms`: set of the room keys the instance has local members in;
 * - `cm:purge:<id>`: `SET NX PX` lock, so one survivor purges a dead instance;
 * - `cm:instances:recovered`: sharded channel (`SPUBLISH`, like the room bus) on which an
 *   instance that re-registered after an outage publishes its id (see `announceRecovery`).
 * The connections' `ready`/`end`/`close` events drive `isReady` and `onReconnect`: either
 * connection dropping is an outage, and it is over when both are ready again (the command
 * connection can come back before the subscriber, which then still misses the bus's frames).
 */
export class RedisInstanceRegistry implements InstanceRegistry {
  readonly backendName = 'redis';
  private readonly logger = new Logger(RedisInstanceRegistry.name);
  private readonly listeners: Array<() => void> = [];
  private readonly peerListeners: Array<(instanceId: string) => void> = [];
  private wasDown = false;

  constructor(
    private readonly redis: RedisConnections,
    private readonly prefix: string,
    private readonly instanceId: string,
  ) {
    for (const connection of [redis.command, redis.subscriber]) {
      // Reported through readiness and the coordinator's logs, never as crashes.
      connection.on('error', () => undefined);
      connection.on('end', () => (this.wasDown = true));
      connection.on('close', () => (this.wasDown = true));
      connection.on('ready', () => this.readyAgain());
    }
  }

  /** Runs the reconnect listeners once both connections are ready after either dropped. */
  private readyAgain(): void {
    if (!this.wasDown || !this.isReady()) return;
    this.wasDown = false;
    for (const listener of this.listeners) listener();
  }

  private get instancesKey(): string {
    return `${this.prefix}:instances`;
  }
  private get recoveredChannel(): string {
    return `${this.prefix}:instances:recovered`;
  }
  private roomsKey(instanceId: string): string {
    return `${this.prefix}:instance:${instanceId}:rooms`;
  }

  isReady(): boolean {
    return this.redis.command.status === 'ready' && this.redis.subscriber.status === 'ready';
  }

  onReconnect(listener: () => void): void {
    this.listeners.push(listener);
  }

  announceRecovery(): void {
    this.redis.command.spublish(this.recoveredChannel, this.instanceId).catch(() => undefined);
  }

  onPeerRecovery(listener: (instanceId: string) => void): void {
    if (this.peerListeners.push(listener) > 1) return;
    const channel = this.recoveredChannel;
    // ioredis subscribes again by itself after a reconnect, as for the room bus's channels.
    this.redis.subscriber.on('smessage', (from: string, instanceId: string) => {
      if (from !== channel || instanceId === this.instanceId) return;
      for (const peer of this.peerListeners) peer(instanceId);
    });
    this.redis.subscriber.ssubscribe(channel).catch((err: Error) => this.logger.warn(`ssubscribe failed: ${err.message}`));
  }

  async renewLease(until: number): Promise<'created' | 'renewed'> {
    const added = await this.redis.command.zadd(this.instancesKey, until, this.instanceId);
    return Number(added) === 1 ? 'created' : 'renewed';
  }

  expiredInstances(now: number): Promise<string[]> {
    return this.redis.command.zrangebyscore(this.instancesKey, '-inf', now);
  }

  async claimPurge(instanceId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.command.set(`${this.prefix}:purge:${instanceId}`, this.instanceId, 'PX', ttlMs, 'NX')) === 'OK';
  }

  roomsOf(instanceId: string): Promise<string[]> {
    return this.redis.command.smembers(this.roomsKey(instanceId));
  }

  async addRoom(roomKey: string): Promise<void> {
    await this.redis.command.sadd(this.roomsKey(this.instanceId), roomKey);
  }

  async removeRoom(roomKey: string): Promise<void> {
    await this.redis.command.srem(this.roomsKey(this.instanceId), roomKey);
  }

  async forget(instanceId: string): Promise<void> {
    await this.redis.command.del(this.roomsKey(instanceId));
    await this.redis.command.zrem(this.instancesKey, instanceId);
  }

  async close(): Promise<void> {
    try {
      await this.redis.command.zrem(this.instancesKey, this.instanceId);
    } catch {
      // Redis is down: the lease simply runs out.
    }
    this.redis.command.disconnect();
    this.redis.subscriber.disconnect();
  }
}
