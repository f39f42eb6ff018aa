import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idTag, idTags, tagsInclude } from './id-tag.js';

describe('idTag / idTags / tagsInclude', () => {
  it('a 15-bit integer, the same for equal strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (id) => {
        const tag = idTag(id);
        expect(Number.isInteger(tag) && tag >= 0 && tag < 2 ** 15).toBe(true);
        expect(idTag(id.slice(0) + '')).toBe(tag);
      }),
    );
  });

  it('the packed tags include both ids and are a small integer (V8 Smi)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (connectionId, sessionId) => {
        const tags = idTags(connectionId, sessionId);
        expect(tags >= 0 && tags < 2 ** 30).toBe(true);
        expect(tagsInclude(tags, idTag(connectionId))).toBe(true);
        expect(tagsInclude(tags, idTag(sessionId))).toBe(true);
      }),
    );
  });

  it('ids of the product (UUIDs) spread over the tags: few match by chance', () => {
    // The loop reads the strings only on a tag match; chance matches must stay rare (expected
    // 2 in 32,768 per recipient), or the fingerprint buys nothing.
    const except = idTag(randomUUID());
    let chance = 0;
    for (let i = 0; i < 100_000; i++) if (tagsInclude(idTags(randomUUID(), randomUUID()), except)) chance++;
    expect(chance).toBeLessThan(30);
    const seen = new Set<number>();
    for (let i = 0; i < 20_000; i++) seen.add(idTag(randomUUID()));
    expect(seen.size).toBeGreaterThan(14_000);
  });
});
