import { Logger } from '@nestjs/common';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitDecision, UpgradeRateLimiter } from '../../domain/ports/upgrade-rate-limiter.port.js';
import type { RedisClient } from './redis-connections.js';

/**
 * {@link UpgradeRateLimiter} across instances: rate-limiter-flexible's `RateLimiterRedis`
 * (`<prefix>:ratelimit:<ip>`, one fixed window per key). While Redis does not answer, each
 * instance counts on its own with `fallback` (the same budget per instance), and says so: a
 * warning when it starts falling back and when Redis answers again, and `fallbacks` counts the
 * attempts it counted locally (exported as a metric), so an operator can tell why a flood got
 * through N instances N times.
 */
export class RedisUpgradeRateLimiter implements UpgradeRateLimiter {
  private readonly logger = new Logger(RedisUpgradeRateLimiter.name);
  private readonly limiter: RateLimiterRedis;
  private readonly fallback: UpgradeRateLimiter;
  private fallingBack = false;
  /** Attempts counted by the per-instance fallback because Redis did not answer. */
  fallbacks = 0;

  constructor(options: { redis: RedisClient; keyPrefix: string; points: number; windowMs: number; fallback: UpgradeRateLimiter }) {
    this.fallback = options.fallback;
    this.limiter = new RateLimiterRedis({
      storeClient: options.redis,
      keyPrefix: `${options.keyPrefix}:ratelimit`,
      points: options.points,
      duration: options.windowMs / 1000,
      // No insuranceLimiter: the fallback is ours, so it can be seen (log line, counter).
      rejectIfRedisNotReady: true,
    });
  }

  async consume(key: string): Promise<RateLimitDecision> {
    try {
      await this.limiter.consume(key);
      this.recovered();
      return { allowed: true };
    } catch (res) {
      if (res instanceof RateLimiterRes) {
        this.recovered();
        return { allowed: false, retryAfterMs: res.msBeforeNext };
      }
      this.fallbacks++;
      if (!this.fallingBack) {
        this.fallingBack = true;
        this.logger.warn(`Redis did not answer the upgrade rate limiter, counting per instance: ${(res as Error)?.message ?? String(res)}`);
      }
      return this.fallback.consume(key);
    }
  }

  async attempts(key: string): Promise<number> {
    return (await this.limiter.get(key))?.consumedPoints ?? 0;
  }

  private recovered(): void {
    if (!this.fallingBack) return;
    this.fallingBack = false;
    this.logger.warn('Redis answers the upgrade rate limiter again; counting across instances');
  }
}
