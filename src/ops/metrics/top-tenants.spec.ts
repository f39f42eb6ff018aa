import { describe, expect, it } from 'vitest';
import { OTHER_TENANTS, topTenants } from './top-tenants.js';

describe('topTenants', () => {
  const counts = new Map([
    ['a', 5],
    ['b', 9],
    ['c', 1],
    ['d', 5],
    ['e', 2],
  ]);

  it('keeps the largest tenants up to the limit and sums the rest as __other__', () => {
    expect(topTenants(counts, 2)).toEqual([
      ['b', 9],
      ['a', 5],
      [OTHER_TENANTS, 8],
    ]);
  });

  it('breaks ties by tenant id, so the same tenants keep their series between scrapes', () => {
    expect(topTenants(counts, 3).slice(0, 3)).toEqual([
      ['b', 9],
      ['a', 5],
      ['d', 5],
    ]);
  });

  it('has no __other__ entry when every tenant fits', () => {
    expect(topTenants(counts, 5)).toHaveLength(5);
    expect(topTenants(counts, 50).map(([t]) => t)).not.toContain(OTHER_TENANTS);
  });

  it('preserves the total', () => {
    for (const limit of [1, 2, 3, 4, 5, 6]) expect(topTenants(counts, limit).reduce((s, [, n]) => s + n, 0)).toBe(22);
  });

  it('returns nothing for limit 0 and skips empty tenants', () => {
    expect(topTenants(counts, 0)).toEqual([]);
    expect(topTenants(new Map([['x', 0]]), 3)).toEqual([]);
  });
});
