import { Controller, Get, Header, Inject, NotFoundException } from '@nestjs/common';
import { Registry } from 'prom-client';
import { OPS_OPTIONS } from '../ops.constants.js';
import type { ResolvedOpsOptions } from '../ops.options.js';
import { MetricsService } from './metrics.service.js';

/**
 * `GET /metrics`: the Prometheus text exposition (format 0.0.4) of this instance, or 404 when
 * `metrics.enabled` is false. Unauthenticated, like every exporter: expose the app port only
 * inside the cluster network, or block `/metrics` at the ingress. Each scrape runs the
 * collect callbacks (cheap reads, plus the readiness checks for `backend_up`).
 */
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(OPS_OPTIONS) private readonly options: ResolvedOpsOptions,
  ) {}

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  scrape(): Promise<string> {
    if (!this.options.metrics.enabled) throw new NotFoundException();
    return this.metrics.metrics();
  }
}
