import type { InstanceRegistry } from '../../domain/ports/instance-registry.port.js';
import type { RedisConnections } from './redis-connections.js';

/**
 * {@link InstanceRegistry} on Redis. Keys (prefix `cm`):
 * - `cm:instances`: sorted set, member = instance id, score = lease expiry (epoch ms);
 * - `cm:instance:<id>:rooms`: set of the room keys the instance has local members in;
 * - `cm:purge:<id>`: `SET NX PX` lock, so one survivor purges a dead instance.
 * The connections' `ready`/`end`/`close` events drive `isReady` and `onReconnect`.
 */
export class RedisInstanceRegistry implements InstanceRegistry {
  readonly backendName = 'redis';
  private readonly listeners: Array<() => void> = [];
  private wasDown = false;

  constructor(
    private readonly redis: RedisConnections,
    private readonly prefix: string,
    private readonly instanceId: string,
  ) {
    const command = redis.command;
    // Reported through readiness and the coordinator's logs, never as crashes.
    command.on('error', () => undefined);
    redis.subscriber.on('error', () => undefined);
    command.on('end', () => (this.wasDown = true));
    command.on('close', () => (this.wasDown = true));
    command.on('ready', () => {
      if (!this.wasDown) return;
      this.wasDown = false;
      for (const listener of this.listeners) listener();
    });
  }

  private get instancesKey(): string {
    return `${this.prefix}:instances`;
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
