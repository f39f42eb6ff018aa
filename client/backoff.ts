/** Reconnect backoff: exponential, capped, with jitter so that many clients dropped at once spread out. */
export interface BackoffOptions {
  /** Delay of the first retry, before jitter. Default 500 ms. */
  initialMs?: number;
  /** Cap of the exponential growth. Default 30000 ms. */
  maxMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /**
   * Share of the delay that is random, 0–1. Default 0.5: a delay of `d` becomes a uniform pick in
   * `[d·(1 − jitter), d]` ("equal jitter"), so retries never bunch up and never wait longer than `d`.
   */
  jitter?: number;
}

export type ResolvedBackoff = Required<BackoffOptions>;

export const DEFAULT_BACKOFF: ResolvedBackoff = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  const o = { ...DEFAULT_BACKOFF, ...stripUndefined(options) };
  if (!(o.initialMs >= 0) || !(o.maxMs >= o.initialMs) || !(o.factor >= 1) || !(o.jitter >= 0 && o.jitter <= 1)) {
    throw new RangeError('backoff: need 0 <= initialMs <= maxMs, factor >= 1 and 0 <= jitter <= 1');
  }
  return o;
}

/** The delay before retry number `attempt` (0 = the first retry after a drop). */
export function backoffDelay(attempt: number, options: ResolvedBackoff, random: () => number = Math.random): number {
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** Math.max(0, attempt));
  return Math.round(base * (1 - options.jitter + options.jitter * random()));
}

/**
 * `Retry-After` in milliseconds: whole seconds (what this server sends) or an HTTP date.
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined | null, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === null || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
