import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRoomKey, roomKey } from './room-key.js';

/** canvasIds as the protocol allows them: 1–128 characters of [A-Za-z0-9._:-]. */
const canvasIdArb = fc.string({
  unit: fc.constantFrom(...'ABCXYZabcxyz0189._:-'.split('')),
  minLength: 1,
  maxLength: 128,
});
/** Tenant ids: any non-empty well-formed string, with the delimiters a key could trip on. */
const tenantArb = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(':', '@', '{', '}', '%', 'a', '/', ' ', 'é', '租', '🎨'), minLength: 1, maxLength: 20 }),
);

describe('roomKey / parseRoomKey', () => {
  it('builds the documented internal key canvas:{canvasId}@{tenant}', () => {
    expect(roomKey('t1', 'c1')).toBe('canvas:c1@t1');
    expect(parseRoomKey('canvas:c1@t1')).toEqual({ tenantId: 't1', canvasId: 'c1' });
  });

  it.each([
    ['acme:eu', 'c1'],
    ['a@b', 'c1'],
    ['{t1}', 'c1'],
    ['t}{@:', 'a:b:c'],
    ['租户-ü-🎨', 'c.1_-:x'],
    ['%40', 'c1'],
    ['t1', 'x'.repeat(128)],
  ])('round-trips tenant %j with canvas %j', (tenantId, canvasId) => {
    const key = roomKey(tenantId, canvasId);
    expect(parseRoomKey(key)).toEqual({ tenantId, canvasId });
  });

  it('keeps the key free of `{`, `}` and of any `@` but the separator (safe inside a Redis hash tag)', () => {
    const key = roomKey('{a@b}:c', 'c1');
    expect(key.startsWith('canvas:c1@')).toBe(true);
    expect(key).not.toMatch(/[{}]/);
    expect(key.split('@')).toHaveLength(2);
  });

  it('two tenants using the same canvasId never share a key', () => {
    expect(roomKey('t1', 'c1')).not.toBe(roomKey('t2', 'c1'));
    // delimiter games: a tenant holding the separator or an escape cannot forge another key
    expect(roomKey('x@t1', 'c1')).not.toBe(roomKey('t1', 'c1'));
    expect(roomKey('%40', 'c1')).not.toBe(roomKey('@', 'c1'));
    expect(roomKey('a:b', 'c')).not.toBe(roomKey('a', 'b:c'));
  });

  it('round-trips any tenant and any valid canvasId (property)', () => {
    fc.assert(
      fc.property(tenantArb, canvasIdArb, (tenantId, canvasId) => {
        expect(parseRoomKey(roomKey(tenantId, canvasId))).toEqual({ tenantId, canvasId });
      }),
      { numRuns: 500 },
    );
  });

  it('is injective: different (tenant, canvas) pairs never collide (property)', () => {
    fc.assert(
      fc.property(tenantArb, canvasIdArb, tenantArb, canvasIdArb, (t1, c1, t2, c2) => {
        fc.pre(t1 !== t2 || c1 !== c2);
        expect(roomKey(t1, c1)).not.toBe(roomKey(t2, c2));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(tenantArb, tenantArb, canvasIdArb, (t1, t2, canvasId) => {
        fc.pre(t1 !== t2);
        expect(roomKey(t1, canvasId)).not.toBe(roomKey(t2, canvasId));
      }),
      { numRuns: 500 },
    );
  });

  it('does not throw for a tenant claim holding a lone UTF-16 surrogate (a valid JSON string)', () => {
    // JSON.parse('"\\ud800"') yields a lone surrogate; a JWT tenant claim can carry one.
    const tenantId = JSON.parse('"t\\ud800"') as string;
    expect(() => roomKey(tenantId, 'c1')).not.toThrow();
    expect(roomKey(tenantId, 'c1')).not.toBe(roomKey('t\ufffd', 'c1'));
    expect(parseRoomKey(roomKey(tenantId, 'c1'))).toEqual({ tenantId, canvasId: 'c1' });
  });
});
