/** Label value that sums the tenants beyond the cap. */
export const OTHER_TENANTS = '__other__';

/**
 * Bounds the cardinality of a per-tenant series: the `limit` tenants with the most
 * connections keep their own entry (ties broken by tenant id, so the choice is stable between
 * scrapes), every other tenant is summed under {@link OTHER_TENANTS}, which appears only when
 * something was summed. Sums are preserved. `limit` 0 returns nothing. O(n log n) in tenants,
 * run at scrape time only.
 */
export function topTenants(counts: ReadonlyMap<string, number>, limit: number): Array<[tenant: string, connections: number]> {
  if (limit <= 0) return [];
  const sorted = [...counts].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (sorted.length <= limit) return sorted;
  const kept = sorted.slice(0, limit);
  let other = 0;
  for (let i = limit; i < sorted.length; i++) other += sorted[i]![1];
  kept.push([OTHER_TENANTS, other]);
  return kept;
}
