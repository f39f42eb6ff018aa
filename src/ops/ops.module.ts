import {
  Inject,
  Module,
  RequestMethod,
  type DynamicModule,
  type FactoryProvider,
  type MiddlewareConsumer,
  type ModuleMetadata,
  type NestModule,
  type Provider,
} from '@nestjs/common';
import { ApplicationConfig, DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ClusterCoordinator } from '../domain/cluster/cluster-coordinator.service.js';
import { HealthController } from './health/health.controller.js';
import { ReadinessCheck } from './health/readiness-check.interface.js';
import { ReadinessIndicator } from './health/readiness.indicator.js';
import { ReadinessRegistry } from './health/readiness.registry.js';
import { ConnectionLogListener } from './logging/connection-log.listener.js';
import { OpsLogger } from './logging/ops-logger.service.js';
import { createHttpLogger } from './logging/pino-options.js';
import { RequestLoggingMiddleware } from './logging/request-logging.middleware.js';
import { FanoutLatencyTimer } from './metrics/fanout-latency.timer.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsEventListener } from './metrics/metrics-event.listener.js';
import { MetricsService } from './metrics/metrics.service.js';
import { OPS_HTTP_LOGGER, OPS_OPTIONS } from './ops.constants.js';
import { resolveOpsOptions, type OpsOptions, type ResolvedOpsOptions } from './ops.options.js';

export interface OpsModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: FactoryProvider['inject'];
  /** Returns the options (validated like forRoot's; a bad one stops start-up naming the field). */
  useFactory: FactoryProvider<OpsOptions | Promise<OpsOptions>>['useFactory'];
}

/**
 * Cluster mode: readiness (and `cm_backend_up{backend="redis"}`) follows the back-end the cluster
 * depends on, as the ClusterCoordinator reports it. A single instance has no such check.
 */
const backendReadiness: Provider = {
  provide: ReadinessCheck,
  inject: [ClusterCoordinator],
  useFactory: (cluster: ClusterCoordinator): ReadinessCheck | ReadinessCheck[] => cluster.backend ?? [],
};

/** The app's pino-http middleware, built from the resolved `logging` options (see createHttpLogger). */
const httpLogger: Provider = {
  provide: OPS_HTTP_LOGGER,
  inject: [OPS_OPTIONS],
  useFactory: (options: ResolvedOpsOptions) => createHttpLogger(options.logging),
};

/**
 * Route pattern of the request-logging middleware: every path. `{/*splat}` (no leading slash)
 * also matches the root of a global prefix (`/v1`, not only `/v1/…`); paths the host excluded
 * from its global prefix are added back by {@link OpsModule.configure}.
 */
const EVERY_ROUTE = { path: '{/*splat}', method: RequestMethod.ALL };

/**
 * The operational surface of the Connection Manager: `GET /health/live`, `GET /health/ready`
 * (@nestjs/terminus), `GET /metrics` (prom-client) and structured JSON logs (pino, pino-http)
 * with tokens redacted. docs/operations.md lists every endpoint, metric and log field.
 *
 *     OpsModule.forRoot({ metrics: { tenantLabelLimit: 50 } })
 *     OpsModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }) })
 *
 * Needs ConnectionManagerModule (global) and EventEmitterModule in the app. For the app's own
 * and the Connection Manager's log lines to go through pino, the app calls
 * `app.useLogger(app.get(OpsLogger))`, ideally with `bufferLogs: true`.
 * Global: other modules inject ReadinessRegistry / MetricsService without importing it.
 * Options are validated when the module is defined (forRoot) or resolved (forRootAsync); a bad
 * one stops start-up with a message naming the field.
 */
@Module({})
export class OpsModule implements NestModule {
  constructor(
    @Inject(OPS_OPTIONS) private readonly options: ResolvedOpsOptions,
    private readonly applicationConfig: ApplicationConfig,
  ) {}

  static forRoot(options: OpsOptions = {}): DynamicModule {
    return OpsModule.build({ provide: OPS_OPTIONS, useValue: resolveOpsOptions(options) }, []);
  }

  static forRootAsync(options: OpsModuleAsyncOptions): DynamicModule {
    const resolve = async (...args: unknown[]): Promise<ResolvedOpsOptions> => resolveOpsOptions(await options.useFactory(...args));
    return OpsModule.build({ provide: OPS_OPTIONS, inject: options.inject ?? [], useFactory: resolve }, options.imports ?? []);
  }

  /** Request lines and request ids for every HTTP route, unless logging is off. */
  configure(consumer: MiddlewareConsumer): void {
    if (this.options.logging === false) return;
    const excluded = this.applicationConfig.getGlobalPrefixOptions().exclude ?? [];
    consumer.apply(RequestLoggingMiddleware).forRoutes(EVERY_ROUTE, ...excluded.map(({ path, requestMethod }) => ({ path, method: requestMethod })));
  }

  private static build(optionsProvider: Provider, imports: NonNullable<ModuleMetadata['imports']>): DynamicModule {
    return {
      module: OpsModule,
      global: true,
      // Terminus's own logger is off: a failing readiness probe would log an error every few
      // seconds; HealthController logs readiness transitions instead.
      imports: [...imports, DiscoveryModule, TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [
        optionsProvider,
        httpLogger,
        OpsLogger,
        RequestLoggingMiddleware,
        backendReadiness,
        ReadinessRegistry,
        ReadinessIndicator,
        MetricsService,
        MetricsEventListener,
        FanoutLatencyTimer,
        ConnectionLogListener,
      ],
      exports: [OPS_OPTIONS, OpsLogger, ReadinessRegistry, MetricsService],
    };
  }
}
