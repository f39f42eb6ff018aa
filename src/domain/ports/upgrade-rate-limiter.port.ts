/** The outcome of counting one upgrade attempt. */
export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Counts upgrade attempts per client IP (every attempt, refused ones included) in a fixed
 * window. The in-memory adapter counts per instance; the Redis one counts across instances and
 * falls back to a per-instance count while Redis is unreachable.
 *
 * Failure mode: `consume` rejects only when no count could be taken at all; the admission then
 * refuses the upgrade with 503 UNAVAILABLE (a limiter outage must not let a flood through).
 */
export interface UpgradeRateLimiter {
  /** Counts one attempt of `key` and says whether it is within the budget. */
  consume(key: string): Promise<RateLimitDecision>;
  /** Attempts of `key` counted in its current window (0 when none). */
  attempts(key: string): Promise<number>;
  /** Attempts counted by a per-instance fallback because the shared store did not answer (0 without one). */
  readonly fallbacks: number;
}

/** Injection token of the {@link UpgradeRateLimiter} (same name as the interface). */
export const UpgradeRateLimiter = Symbol('UpgradeRateLimiter');
