import { describe, expect, it } from 'vitest';
import { topTenants } from './top-tenants.js';

describe('topTenants', () => {
  const counts = new Map([
    ['a', 5],
    ['b', 9],
    ['c', 1],
    ['d', 5],
    ['e', 2],
  ]);

  it('keeps the largest tenants up to the limit and sums the rest apart', () => {
    expect(topTenants(counts, 2)).toEqual({
      top: [
        ['b', 9],
        ['a', 5],
      ],
      others: 8,
    });
  });

  it('breaks ties by tenant id, so the same tenants keep their series between scrapes', () => {
    expect(topTenants(counts, 3).top).toEqual([
      ['b', 9],
      ['a', 5],
      ['d', 5],
    ]);
  });

  it('has no sum of others when every tenant fits', () => {
    expect(topTenants(counts, 5)).toMatchObject({ others: undefined });
    expect(topTenants(counts, 5).top).toHaveLength(5);
    expect(topTenants(counts, 50).others).toBeUndefined();
  });

  it('preserves the total', () => {
    for (const limit of [1, 2, 3, 4, 5, 6]) {
      const { top, others } = topTenants(counts, limit);
      expect(top.reduce((s, [, n]) => s + n, 0) + (others ?? 0)).toBe(22);
    }
  });

  it('a tenant named like the old overflow bucket is a tenant like any other', () => {
    const withOdd = new Map([
      ['__other__', 4],
      ['x', 3],
      ['y', 1],
      ['z', 1],
    ]);
    expect(topTenants(withOdd, 2)).toEqual({
      top: [
        ['__other__', 4],
        ['x', 3],
      ],
      others: 2,
    });
  });

  it('returns nothing for limit 0 and skips empty tenants', () => {
    expect(topTenants(counts, 0)).toEqual({ top: [], others: undefined });
    expect(topTenants(new Map([['x', 0]]), 3)).toEqual({ top: [], others: undefined });
  });
});
