/**
 * Public API of the Connection Manager. Import from here only; everything else is internal.
 */
export { ConnectionManagerModule } from './connection-manager/connection-manager.module.js';
export type { ConnectionManagerExtras } from './connection-manager/connection-manager.module-definition.js';
export {
  resolveConnectionManagerOptions,
  connectionManagerOptionsSchema,
  SUPPORTED_JWT_ALGORITHMS,
  type ConnectionManagerOptions,
  type ResolvedConnectionManagerOptions,
  type JwtAlgorithm,
} from './kernel/connection-manager.options.js';
export { CONNECTION_MANAGER_OPTIONS, INSTANCE_ID } from './kernel/connection-manager.tokens.js';
export * from './kernel/connection-manager.events.js';
export { ConnectionManagerWsAdapter } from './ws/connection-manager.adapter.js';
export { ConnectionService } from './domain/connections/connection.service.js';
export type { ClientConnection } from './domain/connections/client-connection.js';
export type { Identity } from './domain/connections/identity.js';
export { RoomService, type JoinOutcome } from './domain/rooms/room.service.js';
export { CanvasAccessPolicy } from './domain/ports/canvas-access-policy.port.js';
export { ClaimsCanvasAccessPolicy } from './domain/rooms/claims-canvas-access-policy.js';
export { TenantQuotaPolicy, type TenantQuota } from './domain/ports/tenant-quota-policy.port.js';
export { roomKey } from './domain/rooms/room-key.js';
export { SessionService } from './domain/sessions/session.service.js';
export { HeartbeatService } from './ws/heartbeat.service.js';
export { MembershipStore } from './domain/ports/membership-store.port.js';
export type { MembershipEntry, MembershipJoinResult, MembershipLeaveResult } from './domain/ports/membership-store.port.js';
export { InMemoryMembershipStore } from './backends/memory/in-memory-membership-store.js';
export { CanvasPresenceModule } from './presence/canvas-presence.module.js';
export { CanvasPresenceService } from './presence/canvas-presence.service.js';
export { CanvasMessageRouterModule } from './message-router/canvas-message-router.module.js';
export { CanvasMessageRouterService } from './message-router/canvas-message-router.service.js';
export * from './protocol/index.js';
export { OpsModule, type OpsModuleAsyncOptions } from './ops/ops.module.js';
export { resolveOpsOptions, DEFAULT_FANOUT_BUCKETS, type OpsOptions, type ResolvedOpsOptions, type OpsLogLevel } from './ops/ops.options.js';
export { ReadinessCheck } from './ops/health/readiness-check.interface.js';
export { ReadinessRegistry, type ReadinessResult } from './ops/health/readiness.registry.js';
export { MetricsService } from './ops/metrics/metrics.service.js';
export { createLoggerParams, pinoOptions } from './ops/logging/logger-params.js';
export { REDACT_PATHS, SECRET_QUERY_PARAMS, redactUrl, scrubText } from './ops/logging/log-redaction.js';
