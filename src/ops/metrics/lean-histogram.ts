import { Histogram, type Registry } from 'prom-client';

/** What {@link LeanHistogram} needs: name, help, upper bounds (strictly increasing, +Inf implied) and registries. */
export interface LeanHistogramOptions {
  name: string;
  help: string;
  buckets: readonly number[];
  registers: Registry[];
}

/** One sample in the shape prom-client's Histogram gives its registry. */
interface SampleValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string | number>;
  metricName: string;
}

type Snapshot = Awaited<ReturnType<Histogram['get']>>;

/**
 * A prom-client Histogram without labels whose `observe` fits a per-message hot path: a bucket
 * scan and three additions on preallocated numbers. prom-client's own `observe` makes a closure,
 * validates and hashes the (empty) label set and updates a bucket keyed by the bound's string,
 * about a microsecond per message in the busy-room profile (docs/performance.md, round 8).
 *
 * It stays a `Histogram` (same type for MetricsService's users, registered the same way), and a
 * scrape reads the same text as from prom-client's Histogram of the same name and buckets: the
 * registry reads `getForPromString`/`get`, overridden here to report these counts. `reset()`
 * (the registry's resetMetrics) zeroes them. Not supported, since the histogram has no labels:
 * `labels()` and `zero()` throw, as does `observe` with a non-empty label set. A value that is
 * not a finite number is ignored (prom-client's would throw into the caller's path).
 */
export class LeanHistogram extends Histogram {
  /** The metric's name and help (prom-client keeps them on the instance but does not declare them). */
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: Float64Array;
  /** Per bucket, not cumulative; the last one is +Inf. */
  private readonly counts: Float64Array;
  private total = 0;
  private observed = 0;

  constructor({ name, help, buckets, registers }: LeanHistogramOptions) {
    if (buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new Error(`${name}: buckets must be finite and strictly increasing`);
    }
    super({ name, help, buckets: [...buckets], registers });
    this.metricName = name;
    this.metricHelp = help;
    this.bounds = Float64Array.from(buckets);
    this.counts = new Float64Array(buckets.length + 1);
    // prom-client's constructor sets `observe` on the instance, so the override is set here too.
    (this as unknown as { observe: (a: unknown, b?: unknown) => void }).observe = (a, b) => this.observeOne(a, b);
  }

  private observeOne(a: unknown, b: unknown): void {
    if (typeof a === 'number') return this.record(a);
    if (a !== null && typeof a === 'object' && Object.keys(a).length > 0) throw new Error(`${this.metricName} has no labels`);
    if (typeof b === 'number') this.record(b);
  }

  private record(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.total += value;
    this.observed++;
  }

  /** What the registry formats (prom-client's Histogram shape: cumulative `_bucket` per `le`, `+Inf`, `_sum`, `_count`). */
  getForPromString(): Promise<Snapshot> {
    const bucket = `${this.metricName}_bucket`;
    const values: SampleValue[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      values.push({ value: cumulative, labels: { le: this.bounds[i]! }, sharedLabels: {}, metricName: bucket });
    }
    values.push({ value: this.observed, labels: { le: '+Inf' }, sharedLabels: {}, metricName: bucket });
    values.push({ value: this.total, labels: {}, sharedLabels: {}, metricName: `${this.metricName}_sum` });
    values.push({ value: this.observed, labels: {}, sharedLabels: {}, metricName: `${this.metricName}_count` });
    const histogram = this as unknown as { type: Snapshot['type']; aggregator: Snapshot['aggregator'] };
    const snapshot = { name: this.metricName, help: this.metricHelp, type: histogram.type, values, aggregator: histogram.aggregator };
    return Promise.resolve(snapshot as unknown as Snapshot);
  }

  override get(): Promise<Snapshot> {
    return this.getForPromString();
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() too, before this class's fields exist.
    const counts = this.counts as Float64Array | undefined;
    if (counts === undefined) return;
    counts.fill(0);
    this.total = 0;
    this.observed = 0;
  }

  override labels(): never {
    throw new Error(`${this.metricName} has no labels`);
  }

  override zero(_labels?: unknown): never {
    throw new Error(`${this.metricName} has no labels`);
  }
}
