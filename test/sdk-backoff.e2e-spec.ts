import { describe, expect, it } from 'vitest';
import { backoffDelay, connect, parseRetryAfter, resolveBackoff } from '../client/index.js';

/** The SDK's pure parts: reconnect backoff with jitter, Retry-After parsing, option checks. */
describe('SDK: backoff and Retry-After', () => {
  const o = resolveBackoff({ initialMs: 500, maxMs: 8000, factor: 2, jitter: 0.5 });

  it('grows exponentially up to the cap', () => {
    const top = [0, 1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, o, () => 1));
    expect(top).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('jitters within [d·(1 − jitter), d]', () => {
    expect(backoffDelay(3, o, () => 0)).toBe(2000);
    expect(backoffDelay(3, o, () => 0.5)).toBe(3000);
    const seen = new Set(Array.from({ length: 200 }, () => backoffDelay(2, o)));
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(2000);
    }
    expect(seen.size).toBeGreaterThan(20); // spread, not one value
    expect(backoffDelay(4, resolveBackoff({ initialMs: 100, jitter: 0 }), () => 0.3)).toBe(1600);
  });

  it('defaults to 500 ms doubling to 30 s with 50 % jitter', () => {
    expect(resolveBackoff()).toEqual({ initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 });
    expect(resolveBackoff({ initialMs: undefined, maxMs: 60_000 })).toMatchObject({ initialMs: 500, maxMs: 60_000 });
  });

  it('refuses nonsense options', () => {
    expect(() => resolveBackoff({ jitter: 2 })).toThrow(RangeError);
    expect(() => resolveBackoff({ factor: 0.5 })).toThrow(RangeError);
    expect(() => resolveBackoff({ initialMs: 10_000, maxMs: 5000 })).toThrow(RangeError);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter(['2'])).toBe(2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('needs a WebSocket constructor: Node 20 has none built in', () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket;
    try {
      expect(() => connect({ url: 'ws://127.0.0.1:1/ws', getToken: () => 'x' })).toThrow(/WebSocket/);
    } finally {
      if (saved !== undefined) g.WebSocket = saved;
    }
  });
});
