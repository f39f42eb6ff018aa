import { Controller, Get, Header, Logger, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { ReadinessIndicator } from './readiness.indicator.js';

/**
 * Kubernetes-style probes, in @nestjs/terminus's JSON format
 * (`{"status":"ok"|"error"|"shutting_down","info":{…},"error":{…},"details":{…}}`).
 *
 * - `GET /health/live`: 200 whenever the process can answer HTTP. It deliberately checks
 *   nothing else: a liveness failure restarts the pod, and neither a drain nor a Redis outage
 *   is cured by a restart (a failing liveness probe during a drain would cut the drain short).
 *   It does not go through terminus's HealthCheckService, which answers 503 once Nest's
 *   shutdown hooks have started.
 * - `GET /health/ready`: 200 when the instance should get new connections: not draining and
 *   every registered ReadinessCheck ready; else 503 with the failing keys under `error`.
 *   Also 503 (`shutting_down`) once the app is closing.
 *
 * Neither is ever cached (`Cache-Control: no-cache, no-store, must-revalidate`). A readiness
 * change is logged once per transition (warn when it goes down), not on every probe.
 */
@Controller('health')
export class HealthController {
  private readonly logger = new Logger(HealthController.name);
  private readonly startedAt = Date.now();
  private lastReady: boolean | undefined;

  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: ReadinessIndicator,
  ) {}

  @Get('live')
  @Header('Cache-Control', 'no-cache, no-store, must-revalidate')
  live(): HealthCheckResult {
    const process = { status: 'up' as const, uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) };
    return { status: 'ok', info: { process }, error: {}, details: { process } };
  }

  @Get('ready')
  @HealthCheck()
  async ready(): Promise<HealthCheckResult> {
    try {
      const result = await this.health.check([() => this.readiness.draining(), () => this.readiness.checks()]);
      this.transition(true, result);
      return result;
    } catch (err) {
      if (err instanceof ServiceUnavailableException) this.transition(false, err.getResponse() as HealthCheckResult);
      throw err;
    }
  }

  private transition(ready: boolean, result: HealthCheckResult): void {
    if (this.lastReady === ready) return;
    const first = this.lastReady === undefined;
    this.lastReady = ready;
    if (ready && first) return;
    if (ready) this.logger.log({ msg: 'instance is ready', readiness: result.details });
    else this.logger.warn({ msg: 'instance is not ready', readiness: result.error ?? result.details });
  }
}
