import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashReconnectToken, newReconnectToken } from './reconnect-token.js';

describe('reconnect tokens', () => {
  it('are 32 base64url characters (192 bits) and never repeat, across many pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const token = newReconnectToken();
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      seen.add(token);
    }
    expect(seen.size).toBe(20_000);
  });

  it('use the whole byte range (no zeroed or reused pool bytes)', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 2_000; i++) for (const b of Buffer.from(newReconnectToken(), 'base64url')) counts[b]!++;
    // 48,000 bytes: about 187 per value; a stuck or zero-filled pool would skew a value far off.
    expect(Math.min(...counts)).toBeGreaterThan(100);
    expect(Math.max(...counts)).toBeLessThan(300);
  });

  it('are stored as their SHA-256 (base64url), the same as createHash computes', () => {
    const token = newReconnectToken();
    expect(hashReconnectToken(token)).toBe(createHash('sha256').update(token).digest('base64url'));
    expect(hashReconnectToken(token)).not.toContain(token);
  });
});
