const ORIGIN = Date.now();

/**
 * Milliseconds since this module loaded: for fixed windows, which only compare differences.
 * Small numbers stay small integers in V8 (for the first 24 days of a process), where an
 * epoch-ms value would be a boxed double: 16 B more per connection that stores one.
 */
export function windowClock(): number {
  return Date.now() - ORIGIN;
}

/**
 * The counters behind a connection's 1008 closes and its one-notice-per-window rule, made only
 * once the connection first goes over the message rate or sends an invalid frame: a well-behaved
 * connection carries none of them (five fields less per connection, docs/performance.md).
 * Window starts are in ms of {@link windowClock}.
 */
export class AbuseCounters {
  // Both windows start with the first frame that is counted in them.
  /** Whether this rate window's RATE_LIMITED for a frame without an id went out (one per window). */
  rateNoticeSent = false;
  /** Window of rate-limited frames toward the 1008 abuse close (10 × the rate within 10 s). */
  limitedWindowStart = windowClock();
  limitedCount = 0;
  /** Window of invalid frames toward the 1008 close. */
  badWindowStart = windowClock();
  badCount = 0;
}
