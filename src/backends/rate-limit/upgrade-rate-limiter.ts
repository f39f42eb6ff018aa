import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * Injection token of the per-IP upgrade attempt limiter (a rate-limiter-flexible limiter).
 * Default: a fixed-window RateLimiterMemory of `rateLimitPoints` per `rateLimitWindowMs`.
 * In cluster mode a RateLimiterRedis with this memory limiter as insurance takes its place,
 * so attempts count across instances and fall back to a per-instance limit when Redis is down.
 */
export const UpgradeRateLimiter = Symbol('UpgradeRateLimiter');
export type UpgradeRateLimiter = RateLimiterAbstract;

export function createMemoryUpgradeRateLimiter(points: number, windowMs: number): RateLimiterAbstract {
  return new RateLimiterMemory({ keyPrefix: 'ws-upgrade', points, duration: windowMs / 1000 });
}
