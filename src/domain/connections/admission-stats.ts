import { Inject, Injectable } from '@nestjs/common';
import { ConnectionQuotaStore } from '../ports/connection-quota-store.port.js';
import { UpgradeRateLimiter } from '../ports/upgrade-rate-limiter.port.js';

/**
 * What the upgrade admission's shared stores did on their own, for operators (read at scrape
 * time by the metrics; plain numbers since start, never reset). In cluster mode the IP rate
 * limiter and the connection quota store count per instance while Redis does not answer:
 * these counters make such a fallback visible (each store also logs a warning when it starts
 * falling back and when Redis answers again). Always 0 on a single in-memory instance.
 */
@Injectable()
export class AdmissionStats {
  constructor(
    @Inject(UpgradeRateLimiter) private readonly rateLimiter: UpgradeRateLimiter,
    @Inject(ConnectionQuotaStore) private readonly quotaStore: ConnectionQuotaStore,
  ) {}

  /** Upgrade attempts the IP rate limiter counted per instance because Redis did not answer. */
  get rateLimiterFallbacks(): number {
    return this.rateLimiter.fallbacks;
  }

  /** Upgrades whose connection quota was checked per instance because Redis did not answer. */
  get quotaFallbacks(): number {
    return this.quotaStore.fallbacks;
  }
}
