import { windowClock } from './window-clock.js';

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
