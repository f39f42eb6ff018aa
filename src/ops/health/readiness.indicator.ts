import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { LifecycleState } from '../../domain/connections/lifecycle-state.js';
import { OPS_OPTIONS } from '../ops.constants.js';
import type { ResolvedOpsOptions } from '../ops.options.js';
import { ReadinessRegistry } from './readiness.registry.js';

/**
 * Terminus indicators of readiness, one key each:
 * - `draining`: down from the moment shutdown starts (LifecycleState.draining, set by the
 *   Connection Manager's drain) so the load balancer stops sending upgrades that would only
 *   get 503 DRAINING;
 * - one key per {@link ReadinessCheck} (e.g. `redis` in cluster mode), each bounded by
 *   `health.checkTimeoutMs` (default 1000 ms); a check that hangs or throws is down.
 */
@Injectable()
export class ReadinessIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: LifecycleState,
    private readonly registry: ReadinessRegistry,
    @Inject(OPS_OPTIONS) private readonly options: ResolvedOpsOptions,
  ) {}

  draining(): HealthIndicatorResult {
    const session = this.indicators.check('draining');
    return this.lifecycle.draining ? session.down({ message: 'instance is draining: new connections go elsewhere' }) : session.up();
  }

  /** Every registered check as one result object (an app without checks contributes nothing). */
  async checks(): Promise<HealthIndicatorResult> {
    const results = await this.registry.evaluate(this.options.health.checkTimeoutMs);
    const merged: HealthIndicatorResult = {};
    for (const r of results) {
      const session = this.indicators.check(r.name);
      Object.assign(merged, r.ready ? session.up() : session.down({ message: r.message ?? 'not ready' }));
    }
    return merged;
  }
}
