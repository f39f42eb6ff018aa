/**
 * Many deadlines, one timer. Items are kept in buckets of `quantumMs` (a deadline is rounded
 * up, so an item fires at most one quantum late, never early); the buckets' due times sit in a
 * min-heap, and a single unref'd `setTimeout` is armed for the earliest one.
 *
 * Why not one `setTimeout` per connection: each costs a `Timeout` object (~120 B of heap with
 * its closure) for the connection's whole life, and for unref'd timers Node keeps one internal
 * list per distinct delay until it comes due even after `clearTimeout` (the churn soak found
 * that leak, see docs/reliability.md). Here an idle connection costs one Set entry.
 *
 * Cost: `add`/`remove` are O(1) (plus O(log B) when a new bucket is created, B = live buckets);
 * the heap holds each bucket's due time once, so it is bounded by the distinct buckets within
 * the longest deadline (e.g. 36 000 for one-hour tokens at 100 ms), not by the churn.
 * The timer hops at most `maxHopMs` (default 60 s) at a time so wall-clock deadlines
 * (`Date.now`) are re-read at least once a minute.
 *
 * Failure mode: a throwing `onDue` is caught per item (reported through `onError`) so one bad
 * item never stops the others in its bucket.
 */
export class DeadlineWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Min-heap of bucket due times; `queued` says which are in it (each at most once). */
  private readonly heap: number[] = [];
  private readonly queued = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(
    private readonly onDue: (item: T) => void,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly quantumMs = 100,
    private readonly maxHopMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of items waiting (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.size;
    return n;
  }

  /**
   * Schedules `item` at `deadline` (epoch ms). Returns the bucket key the caller keeps to
   * `remove` it. An item must be removed before it is added again.
   */
  add(item: T, deadline: number): number {
    const slot = Math.ceil(deadline / this.quantumMs) * this.quantumMs;
    let bucket = this.buckets.get(slot);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(slot, bucket);
      if (!this.queued.has(slot)) {
        this.queued.add(slot);
        this.push(slot);
      }
    }
    bucket.add(item);
    if (slot < this.armedFor) this.arm();
    return slot;
  }

  /** Unschedules `item` from the bucket `add` returned. Unknown items are ignored. */
  remove(item: T, slot: number): void {
    const bucket = this.buckets.get(slot);
    // The slot stays in the heap; an empty slot is skipped when it comes due.
    if (bucket?.delete(item) && bucket.size === 0) this.buckets.delete(slot);
  }

  /** Stops the timer (module shutdown); the items stay and fire if anything is added again. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.now();
    while (this.heap.length > 0 && this.heap[0]! <= now) {
      const slot = this.pop();
      this.queued.delete(slot);
      const bucket = this.buckets.get(slot);
      if (!bucket) continue;
      this.buckets.delete(slot);
      for (const item of bucket) {
        try {
          this.onDue(item);
        } catch (err) {
          this.onError(err);
        }
      }
    }
    this.arm();
  }

  private arm(): void {
    if (this.heap.length === 0) return;
    const next = this.heap[0]!;
    // Already armed to wake up no later than the earliest bucket: nothing to do (this keeps
    // `add` from touching the timer unless it brings a new earliest deadline).
    if (this.timer !== undefined && this.armedFor <= next) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const now = this.now();
    const delay = Math.min(Math.max(0, next - now), this.maxHopMs);
    this.armedFor = now + delay;
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private push(value: number): void {
    const h = this.heap;
    h.push(value);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= value) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = value;
  }

  private pop(): number {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r]! < h[l]! ? r : l;
        if (h[c]! >= last) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
