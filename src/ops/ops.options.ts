import type { DestinationStream } from 'pino';
import { z } from 'zod';

/** pino's levels; `silent` logs nothing. */
export const OPS_LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type OpsLogLevel = (typeof OPS_LOG_LEVELS)[number];

/**
 * Default buckets of the fan-out latency histogram, in seconds: 50 µs to 250 ms. Local
 * delivery of one message is a loop over a room's sockets, so most observations land in the
 * sub-millisecond buckets; the upper ones catch event-loop stalls.
 */
export const DEFAULT_FANOUT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

const positiveBuckets = z
  .array(z.number().positive())
  .min(1)
  .refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]!), 'must be strictly increasing');

/**
 * Options of {@link OpsModule}. Every field is optional; the defaults are written beside each.
 * Invalid options stop start-up with one message naming the field (see {@link resolveOpsOptions}).
 */
export const opsOptionsSchema = z.object({
  metrics: z
    .object({
      /** Serve `GET /metrics` and count events. Default true; when false the route answers 404 and no listener is attached. */
      enabled: z.boolean().default(true),
      /** Prefix of every metric name, default metrics included. Default `cm_`. */
      prefix: z
        .string()
        .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'must be a valid Prometheus metric name prefix')
        .or(z.literal(''))
        .default('cm_'),
      /** Also export prom-client's process and Node.js metrics (CPU, memory, event-loop lag, GC). Default true. */
      defaultMetrics: z.boolean().default(true),
      /**
       * How often the event-loop lag of the default metrics is sampled, in ms (prom-client's
       * `eventLoopMonitoringPrecision`, a timer that wakes the process each time). Default 100:
       * ten wake-ups a second. prom-client's own default, 10, wakes an idle instance a hundred
       * times a second, 4.5 to 6 ms of CPU per second on the benchmark machine (docs/performance.md).
       * Each sample is the timer's real lateness, so a stall is measured as long as it is; one
       * shorter than this is seen only when a sample falls in it. 1 to 10000.
       */
      eventLoopResolutionMs: z.number().int().min(1).max(10_000).default(100),
      /**
       * Per-tenant connection series: the `tenantLabelLimit` tenants with the most connections get
       * their own `tenant` label value, the rest are summed in one series labelled
       * `other_tenants="true"` (no `tenant` label, so no tenant id can collide with it), so a
       * tenant count in the thousands never turns into thousands of series. Default 20; 0 turns
       * the per-tenant gauge off.
       */
      tenantLabelLimit: z.number().int().min(0).max(1000).default(20),
      /** Buckets (seconds) of the fan-out latency histogram. Default {@link DEFAULT_FANOUT_BUCKETS}. */
      fanoutBuckets: positiveBuckets.default(DEFAULT_FANOUT_BUCKETS),
    })
    .prefault({}),
  health: z
    .object({
      /**
       * Longest a readiness check may take (ms); one that takes longer counts as down, so a hung
       * backend cannot hang the probe. Default 1000 (well under Kubernetes' 1 s probe default
       * plus network: set the probe's timeoutSeconds to at least 2).
       */
      checkTimeoutMs: z.number().int().positive().max(60_000).default(1000),
    })
    .prefault({}),
  /**
   * Structured JSON logs through pino: `OpsLogger` for the app's logger, pino-http for
   * request lines. `false` writes nothing and adds no request middleware (bring your own logger;
   * `pinoOptions` and the redaction helpers are exported). Default enabled.
   */
  logging: z
    .union([
      z.literal(false),
      z.object({
        /** Lowest level written. Default `info`. */
        level: z.enum(OPS_LOG_LEVELS).default('info'),
        /** Where lines go. Default stdout (fd 1), written synchronously. */
        destination: z
          .custom<DestinationStream>(
            (v) => typeof v === 'object' && v !== null && typeof (v as { write?: unknown }).write === 'function',
            'must be a stream with write()',
          )
          .optional(),
        /** One line per HTTP request (pino-http). Probes (`/health/*`) and `/metrics` are never logged. Default true. */
        requestLogging: z.boolean().default(true),
        /**
         * Carry the request's `reqId` onto every line OpsLogger writes while an HTTP request is
         * handled, across `await`s (AsyncLocalStorage). Default false: on Node 20 the first
         * AsyncLocalStorage `run` installs promise hooks for the whole process and for good, and
         * every promise of the WebSocket paths pays for them from then on (+3 to 9 % server CPU
         * per connection in the connect benchmark, docs/performance.md). The request line itself
         * always carries `reqId`. Node 24's AsyncContextFrame makes the context nearly free.
         */
        requestContext: z.boolean().default(false),
      }),
    ])
    .prefault({}),
  /**
   * One log line per connection opened, closed or refused (429 refusals at debug: floods), with
   * `connectionId`, `sessionId`, `userId`, `tenantId`. Goes through the app's Nest logger. Default true.
   */
  connectionLog: z.boolean().default(true),
});

export type OpsOptions = z.input<typeof opsOptionsSchema>;
export type ResolvedOpsOptions = z.output<typeof opsOptionsSchema>;
export type ResolvedOpsLoggingOptions = Exclude<ResolvedOpsOptions['logging'], false>;

/** Applies the defaults; throws one Error naming every bad field (`Invalid ops options: metrics.prefix …`). */
export function resolveOpsOptions(raw: OpsOptions = {}): ResolvedOpsOptions {
  const result = opsOptionsSchema.safeParse(raw);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => `${i.path.join('.') || 'options'} ${i.message}`).join('; ');
  throw new Error(`Invalid ops options: ${detail}`);
}
