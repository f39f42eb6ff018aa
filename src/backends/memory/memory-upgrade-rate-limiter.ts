import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitDecision, UpgradeRateLimiter } from '../../domain/ports/upgrade-rate-limiter.port.js';

/**
 * {@link UpgradeRateLimiter} of one instance: a fixed-window rate-limiter-flexible
 * `RateLimiterMemory` of `points` attempts per `windowMs` per key. Never rejects.
 */
export class MemoryUpgradeRateLimiter implements UpgradeRateLimiter {
  private readonly limiter: RateLimiterMemory;
  /** Always 0: there is nothing to fall back from. */
  readonly fallbacks = 0;

  constructor(options: { points: number; windowMs: number }) {
    this.limiter = new RateLimiterMemory({ keyPrefix: 'ws-upgrade', points: options.points, duration: options.windowMs / 1000 });
  }

  async consume(key: string): Promise<RateLimitDecision> {
    try {
      await this.limiter.consume(key);
      return { allowed: true };
    } catch (res) {
      if (res instanceof RateLimiterRes) return { allowed: false, retryAfterMs: res.msBeforeNext };
      throw res;
    }
  }

  async attempts(key: string): Promise<number> {
    return (await this.limiter.get(key))?.consumedPoints ?? 0;
  }
}
