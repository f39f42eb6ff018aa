import { Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ClusterCoordinator } from '../domain/cluster/cluster-coordinator.service.js';
import { InstanceRoomSet } from '../domain/cluster/instance-room-set.js';
import { AdmissionStats } from '../domain/connections/admission-stats.js';
import { ConnectionAdmissionService } from '../domain/connections/connection-admission.service.js';
import { ConnectionLifecycleService } from '../domain/connections/connection-lifecycle.service.js';
import { ConnectionService } from '../domain/connections/connection.service.js';
import { DrainService } from '../domain/connections/drain.service.js';
import { LifecycleState } from '../domain/connections/lifecycle-state.js';
import { SessionResumeService } from '../domain/connections/session-resume.service.js';
import { TokenExpiryService } from '../domain/connections/token-expiry.service.js';
import { CanvasAccessPolicy } from '../domain/ports/canvas-access-policy.port.js';
import { TokenVerifier } from '../domain/ports/token-verifier.port.js';
import { WriteBatch } from '../domain/ports/write-batch.port.js';
import { ConnectionQuotaService } from '../domain/quotas/connection-quota.service.js';
import { TenantQuotas } from '../domain/quotas/tenant-quotas.js';
import { ClaimsCanvasAccessPolicy } from '../domain/rooms/claims-canvas-access-policy.js';
import { LocalRoomRegistry } from '../domain/rooms/local-room.registry.js';
import { RoomDelivery } from '../domain/rooms/room-delivery.js';
import { RoomMessages } from '../domain/rooms/room-messages.js';
import { RoomService } from '../domain/rooms/room.service.js';
import { SessionService } from '../domain/sessions/session.service.js';
import { resolveConnectionManagerOptions, type ConnectionManagerOptions, type ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import { CONNECTION_MANAGER_OPTIONS, INSTANCE_ID } from '../kernel/connection-manager.tokens.js';
import { DomainEventPublisher } from '../kernel/domain-events.publisher.js';
import { CONNECTION_MANAGER_JWT, JwtAuthenticator, createConnectionManagerJwtService } from '../ws/auth.js';
import { ConnectionManagerGateway } from '../ws/connection-manager.gateway.js';
import { ConnectionHandler } from '../ws/connection.js';
import { HeartbeatService } from '../ws/heartbeat.service.js';
import { WsWriteBatch } from '../ws/ws-write-batch.js';
import { backendProviders } from './backend.providers.js';
import { ConfigurableConnectionManagerModule, RAW_CONNECTION_MANAGER_OPTIONS } from './connection-manager.module-definition.js';

/**
 * The Connection Manager: owns every WebSocket of the app. Import it once:
 *
 *     ConnectionManagerModule.forRoot({ jwt: { secret } })
 *     ConnectionManagerModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }) })
 *
 * and set `new ConnectionManagerWsAdapter(app)` as the app's WebSocket adapter. The host must
 * also import `EventEmitterModule.forRoot()`: the module publishes its domain events there.
 * Options are validated at start-up; a bad one stops it with a message naming the field.
 *
 * This is the composition root: it only wires the transport (src/ws), the domain services and
 * the back-end adapters of the domain's ports (backend.providers.ts) together.
 */
@Module({
  providers: [
    {
      provide: CONNECTION_MANAGER_OPTIONS,
      inject: [RAW_CONNECTION_MANAGER_OPTIONS],
      useFactory: (raw: ConnectionManagerOptions) => resolveConnectionManagerOptions(raw),
    },
    { provide: INSTANCE_ID, useFactory: () => randomUUID() },
    ...backendProviders,
    // Transport adapters of domain ports.
    {
      provide: CONNECTION_MANAGER_JWT,
      inject: [CONNECTION_MANAGER_OPTIONS],
      useFactory: (o: ResolvedConnectionManagerOptions) => createConnectionManagerJwtService(o),
    },
    JwtAuthenticator,
    { provide: TokenVerifier, useExisting: JwtAuthenticator },
    { provide: WriteBatch, useClass: WsWriteBatch },
    { provide: CanvasAccessPolicy, useClass: ClaimsCanvasAccessPolicy },
    // Domain.
    DomainEventPublisher,
    LifecycleState,
    ConnectionService,
    LocalRoomRegistry,
    InstanceRoomSet,
    RoomDelivery,
    RoomMessages,
    RoomService,
    SessionService,
    TokenExpiryService,
    ConnectionLifecycleService,
    SessionResumeService,
    TenantQuotas,
    ConnectionQuotaService,
    ConnectionAdmissionService,
    AdmissionStats,
    DrainService,
    ClusterCoordinator,
    // Transport.
    ConnectionHandler,
    HeartbeatService,
    ConnectionManagerGateway,
  ],
  exports: [
    CONNECTION_MANAGER_OPTIONS,
    INSTANCE_ID,
    ConnectionService,
    RoomService,
    SessionService,
    LifecycleState,
    HeartbeatService,
    DrainService,
    ClusterCoordinator,
    AdmissionStats,
  ],
})
export class ConnectionManagerModule extends ConfigurableConnectionManagerModule {}
