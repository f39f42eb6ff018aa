import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitDecision, UpgradeRateLimiter } from '../../domain/ports/upgrade-rate-limiter.port.js';

const ALLOWED: RateLimitDecision = Object.freeze({ allowed: true });
const allowed = (): RateLimitDecision => ALLOWED;
/** rate-limiter-flexible rejects with its `RateLimiterRes` when the points are used up, with an Error when it failed. */
const refusedOrRethrown = (res: unknown): RateLimitDecision => {
  if (res instanceof RateLimiterRes) return { allowed: false, retryAfterMs: res.msBeforeNext };
  throw res;
};

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

  consume(key: string): Promise<RateLimitDecision> {
    // One `then` on the limiter's promise (no async wrapper around it: one promise less per upgrade).
    return this.limiter.consume(key).then(allowed, refusedOrRethrown);
  }

  async attempts(key: string): Promise<number> {
    return (await this.limiter.get(key))?.consumedPoints ?? 0;
  }
}
