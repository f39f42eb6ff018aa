import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addOne, holds, itemsOf, removeOne, sizeOf, type OneOrSet } from './one-or-set.js';

describe('OneOrSet: a Map of one-or-many behaves like a Map of Sets', () => {
  it('matches a Map<K, Set<T>> model on random add/remove sequences', () => {
    const op = fc.record({ add: fc.boolean(), key: fc.constantFrom('a', 'b'), item: fc.constantFrom('x', 'y', 'z') });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const map = new Map<string, OneOrSet<string>>();
        const model = new Map<string, Set<string>>();
        for (const { add, key, item } of ops) {
          if (add) {
            addOne(map, key, item);
            if (!model.has(key)) model.set(key, new Set());
            model.get(key)!.add(item);
          } else {
            const had = model.get(key)?.delete(item) ?? false;
            if (model.get(key)?.size === 0) model.delete(key);
            expect(removeOne(map, key, item)).toBe(had);
          }
          for (const k of ['a', 'b']) {
            expect(new Set(itemsOf(map.get(k)))).toEqual(model.get(k) ?? new Set());
            expect(sizeOf(map.get(k))).toBe(model.get(k)?.size ?? 0);
            for (const i of ['x', 'y', 'z']) expect(holds(map.get(k), i)).toBe(model.get(k)?.has(i) ?? false);
          }
          expect([...map.keys()].sort()).toEqual([...model.keys()].sort());
        }
      }),
    );
  });

  it('keeps a single item unboxed (no Set until a second one arrives, none again when one is left)', () => {
    const map = new Map<string, OneOrSet<string>>();
    addOne(map, 'k', 'x');
    expect(map.get('k')).toBe('x');
    addOne(map, 'k', 'y');
    expect(map.get('k')).toBeInstanceOf(Set);
    removeOne(map, 'k', 'x');
    expect(map.get('k')).toBe('y');
  });
});
