/** The per-tenant series of a scrape: tenants with their own series, and what the others sum to. */
export interface TenantSeries {
  /** The tenants with the most connections, largest first. */
  top: Array<[tenant: string, connections: number]>;
  /** Connections of every other tenant, summed; undefined when every tenant has its own series. */
  others: number | undefined;
}

/**
 * Bounds the cardinality of a per-tenant series: the `limit` tenants with the most
 * connections keep their own entry (ties broken by tenant id, so the choice is stable between
 * scrapes), every other tenant is summed in `others`, which is set only when something was
 * summed. Sums are preserved. `limit` 0 returns nothing. O(n log n) in tenants, run at scrape
 * time only.
 *
 * The sum is kept apart from the tenants (not under a reserved tenant name such as
 * `__other__`): tenant ids are arbitrary JWT claims, so any name could also be a real tenant.
 */
export function topTenants(counts: ReadonlyMap<string, number>, limit: number): TenantSeries {
  if (limit <= 0) return { top: [], others: undefined };
  const sorted = [...counts].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (sorted.length <= limit) return { top: sorted, others: undefined };
  let others = 0;
  for (let i = limit; i < sorted.length; i++) others += sorted[i]![1];
  return { top: sorted.slice(0, limit), others };
}
