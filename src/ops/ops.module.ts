import { Module, type DynamicModule, type FactoryProvider, type ModuleMetadata, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { ClusterCoordinator } from '../domain/cluster/cluster-coordinator.service.js';
import { HealthController } from './health/health.controller.js';
import { ReadinessCheck } from './health/readiness-check.interface.js';
import { ReadinessIndicator } from './health/readiness.indicator.js';
import { ReadinessRegistry } from './health/readiness.registry.js';
import { ConnectionLogListener } from './logging/connection-log.listener.js';
import { createLoggerParams } from './logging/logger-params.js';
import { FanoutLatencyTimer } from './metrics/fanout-latency.timer.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsEventListener } from './metrics/metrics-event.listener.js';
import { MetricsService } from './metrics/metrics.service.js';
import { OPS_OPTIONS } from './ops.constants.js';
import { resolveOpsOptions, type OpsOptions, type ResolvedOpsOptions } from './ops.options.js';

export interface OpsModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: FactoryProvider['inject'];
  /** Returns the options. Called twice: once for the module, once for the logger's params; keep it pure. */
  useFactory: FactoryProvider<OpsOptions | Promise<OpsOptions>>['useFactory'];
  /**
   * Set up nestjs-pino's LoggerModule (default true). Must be known before the factory runs;
   * with `false` the factory's `logging` is ignored and the app keeps its own logger.
   */
  logging?: boolean;
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

/**
 * The operational surface of the Connection Manager: `GET /health/live`, `GET /health/ready`
 * (@nestjs/terminus), `GET /metrics` (prom-client) and structured JSON logs (nestjs-pino)
 * with tokens redacted. docs/operations.md lists every endpoint, metric and log field.
 *
 *     OpsModule.forRoot({ metrics: { tenantLabelLimit: 50 } })
 *     OpsModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }) })
 *
 * Needs ConnectionManagerModule (global) and EventEmitterModule in the app. For the app's own
 * and the Connection Manager's log lines to go through pino, the app calls
 * `app.useLogger(app.get(Logger))` (nestjs-pino's Logger), ideally with `bufferLogs: true`.
 * Global: other modules inject ReadinessRegistry / MetricsService without importing it.
 * Options are validated when the module is defined (forRoot) or resolved (forRootAsync); a bad
 * one stops start-up with a message naming the field.
 */
@Module({})
export class OpsModule {
  static forRoot(options: OpsOptions = {}): DynamicModule {
    const resolved = resolveOpsOptions(options);
    const logger = resolved.logging === false ? [] : [LoggerModule.forRoot(createLoggerParams(resolved.logging))];
    return OpsModule.build({ provide: OPS_OPTIONS, useValue: resolved }, logger, []);
  }

  static forRootAsync(options: OpsModuleAsyncOptions): DynamicModule {
    const resolve = async (...args: unknown[]): Promise<ResolvedOpsOptions> => resolveOpsOptions(await options.useFactory(...args));
    const inject = options.inject ?? [];
    const logger =
      options.logging === false
        ? []
        : [
            LoggerModule.forRootAsync({
              imports: options.imports,
              inject,
              useFactory: async (...args: unknown[]) => createLoggerParams((await resolve(...args)).logging),
            }),
          ];
    return OpsModule.build({ provide: OPS_OPTIONS, inject, useFactory: resolve }, logger, options.imports ?? []);
  }

  private static build(optionsProvider: Provider, logger: DynamicModule[], imports: NonNullable<ModuleMetadata['imports']>): DynamicModule {
    return {
      module: OpsModule,
      global: true,
      // Terminus's own logger is off: a failing readiness probe would log an error every few
      // seconds; HealthController logs readiness transitions instead.
      imports: [...imports, DiscoveryModule, TerminusModule.forRoot({ logger: false }), ...logger],
      controllers: [HealthController, MetricsController],
      providers: [
        optionsProvider,
        backendReadiness,
        ReadinessRegistry,
        ReadinessIndicator,
        MetricsService,
        MetricsEventListener,
        FanoutLatencyTimer,
        ConnectionLogListener,
      ],
      exports: [OPS_OPTIONS, ReadinessRegistry, MetricsService],
    };
  }
}
