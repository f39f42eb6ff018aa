import { Module } from '@nestjs/common';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { RoomBus } from '../backends/bus/room-bus.interface.js';
import { InstanceLeaseService } from '../backends/redis/instance-lease.service.js';
import { REDIS_CONNECTIONS, createRedisConnections, type RedisConnections } from '../backends/redis/redis-connections.js';
import { RedisMembershipStore } from '../backends/redis/redis-membership-store.js';
import { RedisRoomBus } from '../backends/redis/redis-room-bus.js';
import { RedisSessionStore } from '../backends/redis/redis-session-store.js';
import { randomUUID } from 'node:crypto';
import { InMemoryMembershipStore } from '../backends/membership/in-memory-membership-store.js';
import { MembershipStore } from '../backends/membership/membership-store.interface.js';
import { UpgradeRateLimiter, createMemoryUpgradeRateLimiter } from '../backends/rate-limit/upgrade-rate-limiter.js';
import { ConnectionService } from '../domain/connections/connection.service.js';
import { LifecycleState } from '../domain/connections/lifecycle-state.js';
import { CanvasAccessPolicy, ClaimsCanvasAccessPolicy } from '../domain/rooms/canvas-access-policy.interface.js';
import { LocalRoomRegistry } from '../domain/rooms/local-room.registry.js';
import { RoomDelivery } from '../domain/rooms/room-delivery.js';
import { WriteBatch } from '../domain/connections/write-batch.interface.js';
import { WsWriteBatch } from '../ws/ws-write-batch.js';
import { RoomService } from '../domain/rooms/room.service.js';
import { SessionService } from '../domain/sessions/session.service.js';
import { SessionStore } from '../backends/session/session-store.interface.js';
import { InMemorySessionStore } from '../backends/session/in-memory-session-store.js';
import { ConnectionLifecycleService } from '../domain/connections/connection-lifecycle.service.js';
import { DrainService } from '../domain/connections/drain.service.js';
import { TokenExpiryService } from '../domain/connections/token-expiry.service.js';
import { CONNECTION_MANAGER_JWT, JwtAuthenticator, createConnectionManagerJwtService } from '../ws/auth.js';
import { ConnectionHandler } from '../ws/connection.js';
import { ConnectionManagerGateway } from '../ws/connection-manager.gateway.js';
import { HeartbeatService } from '../ws/heartbeat.service.js';
import { UpgradeGuard } from '../ws/upgrade-guard.js';
import { CONNECTION_MANAGER_OPTIONS, INSTANCE_ID } from './connection-manager.constants.js';
import { DomainEventPublisher } from './domain-events.publisher.js';
import { ConfigurableConnectionManagerModule, RAW_CONNECTION_MANAGER_OPTIONS } from './connection-manager.module-definition.js';
import { resolveConnectionManagerOptions, type ConnectionManagerOptions, type ResolvedConnectionManagerOptions } from './connection-manager.options.js';

/**
 * The Connection Manager: owns every WebSocket of the app. Import it once:
 *
 *     ConnectionManagerModule.forRoot({ jwt: { secret } })
 *     ConnectionManagerModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }) })
 *
 * and set `new ConnectionManagerWsAdapter(app)` as the app's WebSocket adapter. The host must
 * also import `EventEmitterModule.forRoot()`: the module publishes its domain events there.
 * Options are validated at start-up; a bad one stops it with a message naming the field.
 */
@Module({
  providers: [
    {
      provide: CONNECTION_MANAGER_OPTIONS,
      inject: [RAW_CONNECTION_MANAGER_OPTIONS],
      useFactory: (raw: ConnectionManagerOptions) => resolveConnectionManagerOptions(raw),
    },
    { provide: INSTANCE_ID, useFactory: () => randomUUID() },
    {
      provide: CONNECTION_MANAGER_JWT,
      inject: [CONNECTION_MANAGER_OPTIONS],
      useFactory: (o: ResolvedConnectionManagerOptions) => createConnectionManagerJwtService(o),
    },
    // Back-ends: in memory by default; on Redis when `redis` is set (cluster mode).
    {
      provide: REDIS_CONNECTIONS,
      inject: [CONNECTION_MANAGER_OPTIONS],
      useFactory: (o: ResolvedConnectionManagerOptions) => (o.redis ? createRedisConnections(o.redis.url, o.redis.clusterNodes) : undefined),
    },
    {
      provide: UpgradeRateLimiter,
      inject: [CONNECTION_MANAGER_OPTIONS, REDIS_CONNECTIONS],
      useFactory: (o: ResolvedConnectionManagerOptions, redis?: RedisConnections) => {
        const memory = createMemoryUpgradeRateLimiter(o.rateLimitPoints, o.rateLimitWindowMs);
        // Counts across instances; while Redis is down the per-instance memory limiter answers.
        return redis
          ? new RateLimiterRedis({ storeClient: redis.command, keyPrefix: `${o.redis!.keyPrefix}:ratelimit`, points: o.rateLimitPoints, duration: o.rateLimitWindowMs / 1000, insuranceLimiter: memory })
          : memory;
      },
    },
    {
      provide: MembershipStore,
      inject: [CONNECTION_MANAGER_OPTIONS, INSTANCE_ID, REDIS_CONNECTIONS],
      useFactory: (o: ResolvedConnectionManagerOptions, id: string, redis?: RedisConnections) =>
        redis ? new RedisMembershipStore(redis.command, o.redis!.keyPrefix, id) : new InMemoryMembershipStore(),
    },
    {
      provide: SessionStore,
      inject: [CONNECTION_MANAGER_OPTIONS, INSTANCE_ID, REDIS_CONNECTIONS],
      useFactory: (o: ResolvedConnectionManagerOptions, id: string, redis?: RedisConnections) =>
        redis
          ? new RedisSessionStore(redis.command, o.redis!.keyPrefix, id, o.reconnectTokenTtlMs, o.resumeBufferMessages, o.resumeBufferBytes)
          : new InMemorySessionStore(o.resumeBufferMessages, o.resumeBufferBytes),
    },
    {
      provide: RoomBus,
      inject: [CONNECTION_MANAGER_OPTIONS, INSTANCE_ID, REDIS_CONNECTIONS],
      useFactory: (o: ResolvedConnectionManagerOptions, id: string, redis?: RedisConnections) =>
        redis ? new RedisRoomBus(redis, o.redis!.keyPrefix, id) : undefined,
    },
    InstanceLeaseService,
    { provide: CanvasAccessPolicy, useClass: ClaimsCanvasAccessPolicy },
    DomainEventPublisher,
    LifecycleState,
    JwtAuthenticator,
    ConnectionService,
    LocalRoomRegistry,
    RoomDelivery,
    { provide: WriteBatch, useClass: WsWriteBatch },
    RoomService,
    SessionService,
    TokenExpiryService,
    ConnectionLifecycleService,
    DrainService,
    UpgradeGuard,
    ConnectionHandler,
    HeartbeatService,
    ConnectionManagerGateway,
  ],
  exports: [CONNECTION_MANAGER_OPTIONS, INSTANCE_ID, ConnectionService, RoomService, SessionService, MembershipStore, SessionStore, LifecycleState, HeartbeatService, DrainService, InstanceLeaseService, REDIS_CONNECTIONS],
})
export class ConnectionManagerModule extends ConfigurableConnectionManagerModule {}
