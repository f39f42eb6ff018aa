import { collectDefaultMetrics, type Registry } from 'prom-client';

/** What {@link startDefaultMetrics} needs: the options' prefix and sampling period. */
export interface DefaultMetricsSettings {
  prefix: string;
  /** `metrics.eventLoopResolutionMs` (see ops.options.ts). */
  eventLoopResolutionMs: number;
}

/**
 * prom-client's process and Node.js metrics on `registry`. The event-loop lag is sampled every
 * `eventLoopResolutionMs` (prom-client's `eventLoopMonitoringPrecision`; its own default is 10 ms,
 * which wakes an idle process a hundred times a second).
 */
export function startDefaultMetrics(registry: Registry, { prefix, eventLoopResolutionMs }: DefaultMetricsSettings): void {
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: eventLoopResolutionMs });
}
