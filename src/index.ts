/**
 * Public API of the Connection Manager (`import … from 'canvas-connection-manager'`). Import
 * from here only; everything else is internal and may change in any release. The checked-in
 * report `api/canvas-connection-manager.api.md` lists this surface (`npm run api:check`).
 */

// The module, its options, and the adapter a host sets in main.ts.
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
export { ConnectionManagerWsAdapter } from './ws/connection-manager.adapter.js';

// Domain events (names and payload classes, docs/events.md).
export * from './kernel/connection-manager.events.js';

// Services a host injects, and the port it may implement.
export { ConnectionService } from './domain/connections/connection.service.js';
export type { ClientConnection } from './domain/connections/client-connection.js';
export type { Identity } from './domain/connections/identity.js';
export { RoomService, type JoinOutcome } from './domain/rooms/room.service.js';
export type { RoomMessage } from './domain/rooms/room-messages.js';
export { roomKey } from './domain/rooms/room-key.js';
export { CanvasAccessPolicy } from './domain/ports/canvas-access-policy.port.js';
export { ClaimsCanvasAccessPolicy } from './domain/rooms/claims-canvas-access-policy.js';
export { TenantQuotaPolicy, type TenantQuota } from './domain/ports/tenant-quota-policy.port.js';

// The reference Presence and message-router modules.
export { CanvasPresenceModule } from './presence/canvas-presence.module.js';
export { CanvasPresenceService } from './presence/canvas-presence.service.js';
export { CanvasMessageRouterModule } from './message-router/canvas-message-router.module.js';
export { CanvasMessageRouterService } from './message-router/canvas-message-router.service.js';

// Wire protocol v1 (docs/protocol.md): frame types and the frame parser the SDK shares.
export * from './protocol/index.js';

// Operations: health, metrics, JSON logs (docs/operations.md).
export { OpsModule, type OpsModuleAsyncOptions } from './ops/ops.module.js';
export {
  resolveOpsOptions,
  opsOptionsSchema,
  OPS_LOG_LEVELS,
  DEFAULT_FANOUT_BUCKETS,
  type OpsOptions,
  type ResolvedOpsOptions,
  type OpsLogLevel,
} from './ops/ops.options.js';
export { ReadinessCheck } from './ops/health/readiness-check.interface.js';
export { ReadinessRegistry, type ReadinessResult } from './ops/health/readiness.registry.js';
export { MetricsService } from './ops/metrics/metrics.service.js';
export { OpsLogger } from './ops/logging/ops-logger.service.js';
export { pinoOptions } from './ops/logging/pino-options.js';
export { REDACT_PATHS, SECRET_QUERY_PARAMS, redactUrl, scrubText } from './ops/logging/log-redaction.js';
