import { describe, expect, it } from 'vitest';
import { drawRandom } from './entropy-pool.js';

describe('drawRandom: pooled CSPRNG bytes', () => {
  it('never hands out the same bytes twice, across many refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) seen.add(drawRandom(12, (pool, at) => pool.toString('hex', at, at + 12)));
    expect(seen.size).toBe(5_000);
  });

  it('zeroes what it handed out, so the pool never keeps a value in use', () => {
    let kept: { pool: Buffer; at: number } | undefined;
    const value = drawRandom(16, (pool, at) => {
      kept = { pool, at };
      return pool.toString('hex', at, at + 16);
    });
    expect(value).toMatch(/^[0-9a-f]{32}$/);
    expect(kept!.pool.subarray(kept!.at, kept!.at + 16).every((b) => b === 0)).toBe(true);
  });

  it('uses the whole byte range (a stuck or zero-filled pool would skew it)', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 1_500; i++) drawRandom(32, (pool, at) => pool.subarray(at, at + 32).forEach((b) => counts[b]!++));
    // 48,000 bytes: about 187 per value.
    expect(Math.min(...counts)).toBeGreaterThan(100);
    expect(Math.max(...counts)).toBeLessThan(300);
  });

  it('refuses sizes outside 1..256 with a RangeError', () => {
    for (const n of [0, -1, 257, 1.5]) expect(() => drawRandom(n, () => 0)).toThrow(RangeError);
  });
});
