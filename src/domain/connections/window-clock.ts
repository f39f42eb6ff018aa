/** Epoch ms when this module loaded (the process, in practice): the origin of {@link windowClock}. */
export const CLOCK_ORIGIN = Date.now();

/**
 * Milliseconds since this module loaded: for fixed windows, which only compare differences.
 * Small numbers stay small integers in V8 (for the first 24 days of a process), where an
 * epoch-ms value would be a boxed double: 16 B more per connection that stores one.
 */
export function windowClock(): number {
  return Date.now() - CLOCK_ORIGIN;
}
