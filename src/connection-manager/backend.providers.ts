import type { Provider } from '@nestjs/common';
import { InMemoryConnectionQuotaStore } from '../backends/memory/in-memory-connection-quota-store.js';
import { InMemoryMembershipStore } from '../backends/memory/in-memory-membership-store.js';
import { InMemorySessionStore } from '../backends/memory/in-memory-session-store.js';
import { MemoryUpgradeRateLimiter } from '../backends/memory/memory-upgrade-rate-limiter.js';
import { RedisConnectionQuotaStore } from '../backends/redis/redis-connection-quota-store.js';
import { createRedisConnections, type RedisConnections } from '../backends/redis/redis-connections.js';
import { RedisInstanceRegistry } from '../backends/redis/redis-instance-registry.js';
import { RedisMembershipStore } from '../backends/redis/redis-membership-store.js';
import { RedisRoomBus } from '../backends/redis/redis-room-bus.js';
import { RedisRoomLog } from '../backends/redis/redis-room-log.js';
import { InMemoryRoomLog } from '../backends/memory/in-memory-room-log.js';
import { RoomLog } from '../domain/ports/room-log.port.js';
import { RedisSessionStore } from '../backends/redis/redis-session-store.js';
import { RedisUpgradeRateLimiter } from '../backends/redis/redis-upgrade-rate-limiter.js';
import { ConnectionQuotaStore } from '../domain/ports/connection-quota-store.port.js';
import { InstanceRegistry } from '../domain/ports/instance-registry.port.js';
import { MembershipStore } from '../domain/ports/membership-store.port.js';
import { RoomBus } from '../domain/ports/room-bus.port.js';
import { SessionStore } from '../domain/ports/session-store.port.js';
import { UpgradeRateLimiter } from '../domain/ports/upgrade-rate-limiter.port.js';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import { CONNECTION_MANAGER_OPTIONS, INSTANCE_ID } from '../kernel/connection-manager.tokens.js';

/** The Redis connections of cluster mode; undefined in memory mode. Internal to the composition root. */
const REDIS_CONNECTIONS = Symbol('REDIS_CONNECTIONS');

type Redis = { connections: RedisConnections; keyPrefix: string };

/** The one place that picks the back-end of each port: in memory by default, Redis when `redis` is set. */
function backend<T>(
  provide: symbol,
  build: { memory: (o: ResolvedConnectionManagerOptions) => T; redis: (o: ResolvedConnectionManagerOptions, r: Redis, id: string) => T },
): Provider {
  return {
    provide,
    inject: [CONNECTION_MANAGER_OPTIONS, INSTANCE_ID, REDIS_CONNECTIONS],
    useFactory: (o: ResolvedConnectionManagerOptions, id: string, connections?: RedisConnections) =>
      connections && o.redis ? build.redis(o, { connections, keyPrefix: o.redis.keyPrefix }, id) : build.memory(o),
  };
}

/**
 * Room log bounds (the replay bounds) and lifetimes: a log lives an hour after its last message or
 * join (a room idle longer restarts with a new epoch: a resume with a position from before says
 * `truncated`, and the client refetches; nothing was missed in a room that quiet). An hour, not
 * more: every log holds up to `resumeBufferBytes`, and rooms nobody uses must not keep it; a session's highest `seq` in a room twice
 * the reconnect TTL (a resend can only come from a resume within the TTL).
 */
function roomLogLifetimes(o: ResolvedConnectionManagerOptions) {
  return {
    maxMessages: o.resumeBufferMessages,
    maxBytes: o.resumeBufferBytes,
    idleTtlMs: ROOM_LOG_IDLE_TTL_MS,
    logTtlMs: ROOM_LOG_IDLE_TTL_MS,
    seqTtlMs: 2 * o.reconnectTokenTtlMs,
  };
}

/** A room's log is dropped after this long without a message or a join: 1 h. */
const ROOM_LOG_IDLE_TTL_MS = 60 * 60 * 1000;

/** The ports' adapters, chosen from the options (see docs/architecture.md for the table). */
export const backendProviders: Provider[] = [
  {
    provide: REDIS_CONNECTIONS,
    inject: [CONNECTION_MANAGER_OPTIONS],
    useFactory: (o: ResolvedConnectionManagerOptions) => (o.redis ? createRedisConnections(o.redis.url, o.redis.clusterNodes) : undefined),
  },
  backend<UpgradeRateLimiter>(UpgradeRateLimiter, {
    memory: (o) => new MemoryUpgradeRateLimiter({ points: o.rateLimitPoints, windowMs: o.rateLimitWindowMs }),
    // Counts across instances; while Redis does not answer, each instance counts on its own.
    redis: (o, r) =>
      new RedisUpgradeRateLimiter({
        redis: r.connections.command,
        keyPrefix: r.keyPrefix,
        points: o.rateLimitPoints,
        windowMs: o.rateLimitWindowMs,
        fallback: new MemoryUpgradeRateLimiter({ points: o.rateLimitPoints, windowMs: o.rateLimitWindowMs }),
      }),
  }),
  backend<ConnectionQuotaStore>(ConnectionQuotaStore, {
    memory: () => new InMemoryConnectionQuotaStore(),
    // Counts across instances; while Redis does not answer, each instance counts its own slots.
    redis: (o, r, id) => new RedisConnectionQuotaStore({ redis: r.connections.command, keyPrefix: r.keyPrefix, instanceId: id, leaseMs: o.instanceLeaseMs }),
  }),
  backend<MembershipStore>(MembershipStore, {
    memory: () => new InMemoryMembershipStore(),
    redis: (_o, r, id) => new RedisMembershipStore(r.connections.command, r.keyPrefix, id),
  }),
  backend<SessionStore>(SessionStore, {
    memory: (o) => new InMemorySessionStore(o.resumeBufferMessages, o.resumeBufferBytes),
    redis: (o, r, id) => new RedisSessionStore(r.connections.command, r.keyPrefix, id, o.reconnectTokenTtlMs, o.resumeBufferMessages, o.resumeBufferBytes),
  }),
  // A single instance has no bus and no registry: nobody else to tell.
  backend<RoomBus | undefined>(RoomBus, {
    memory: () => undefined,
    redis: (_o, r, id) => new RedisRoomBus(r.connections, r.keyPrefix, id),
  }),
  // Room messages: appended, published and fed to away sessions' buffers by one script, with the session store's bounds.
  backend<RoomLog>(RoomLog, {
    memory: (o) => new InMemoryRoomLog(roomLogLifetimes(o)),
    redis: (o, r, id) =>
      new RedisRoomLog({ redis: r.connections.command, keyPrefix: r.keyPrefix, instanceId: id, ...roomLogLifetimes(o), awayTtlMs: o.reconnectTokenTtlMs }),
  }),
  backend<InstanceRegistry | undefined>(InstanceRegistry, {
    memory: () => undefined,
    redis: (_o, r, id) => new RedisInstanceRegistry(r.connections, r.keyPrefix, id),
  }),
];
