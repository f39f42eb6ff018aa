/**
 * One item, or a Set of them once there are several. For maps whose values are almost always a
 * single item (a user's tabs on an instance, a user's connections in a room, a session's
 * rooms): a Set with its hash table costs ~100 B of heap even for one entry, and such maps
 * have one value per connection (docs/performance.md, memory per idle connection). `T` must
 * never itself be a Set.
 */
export type OneOrSet<T> = T | Set<T>;

/** `value` with `item` added (the same Set, mutated, once there is one). */
export function withOne<T>(value: OneOrSet<T> | undefined, item: T): OneOrSet<T> {
  if (value === undefined || value === item) return item;
  if (value instanceof Set) return value.add(item);
  return new Set([value, item]);
}

/** `value` without `item`: undefined when nothing is left, a single item when one is. */
export function withoutOne<T>(value: OneOrSet<T> | undefined, item: T): OneOrSet<T> | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Set)) return value === item ? undefined : value;
  value.delete(item);
  return value.size === 1 ? value.values().next().value : value.size === 0 ? undefined : value;
}

/** Adds `item` to the value at `key`, keeping a single item unboxed. */
export function addOne<K, T>(map: Map<K, OneOrSet<T>>, key: K, item: T): void {
  const current = map.get(key);
  if (current === undefined) map.set(key, item);
  else if (current instanceof Set) current.add(item);
  else if (current !== item) map.set(key, new Set([current, item]));
}

/** Removes `item` from the value at `key` (the key goes when nothing is left); false when it was not there. */
export function removeOne<K, T>(map: Map<K, OneOrSet<T>>, key: K, item: T): boolean {
  const current = map.get(key);
  if (current === undefined) return false;
  if (!(current instanceof Set)) {
    if (current !== item) return false;
    map.delete(key);
    return true;
  }
  if (!current.delete(item)) return false;
  if (current.size === 1) map.set(key, current.values().next().value as T);
  return true;
}

/** How many items the value holds. */
export function sizeOf<T>(value: OneOrSet<T> | undefined): number {
  return value === undefined ? 0 : value instanceof Set ? value.size : 1;
}

/** Whether the value holds `item`. */
export function holds<T>(value: OneOrSet<T> | undefined, item: T): boolean {
  return value === undefined ? false : value instanceof Set ? value.has(item) : value === item;
}

/** The items as an array (a copy). */
export function itemsOf<T>(value: OneOrSet<T> | undefined): T[] {
  return value === undefined ? [] : value instanceof Set ? [...value] : [value];
}
