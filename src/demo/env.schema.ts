import { z } from 'zod';
import { SUPPORTED_JWT_ALGORITHMS, type ConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import type { OpsLogLevel, OpsOptions } from '../ops/ops.options.js';

const int = (min = 1) => z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(min, `must be at least ${min}`);
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);
const optionalString = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === '' ? undefined : s));

/**
 * Every environment variable of the demo app, with its default. `.env.example` and
 * docs/configuration.md list the same; a bad value stops start-up naming the variable.
 */
const envShape = z.object({
  PORT: int(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_HEADERS_TIMEOUT_MS: int(1000).default(10_000),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  DEMO_MODE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** Read only to refuse DEMO_MODE in production (below); the app behaves the same otherwise. */
  NODE_ENV: optionalString,
  WS_PATH: z.string().startsWith('/', 'must start with /').default('/ws'),
  JWT_SECRET: optionalString,
  JWT_PUBLIC_KEY: optionalString,
  JWT_ALGORITHMS: list
    .pipe(z.array(z.enum(SUPPORTED_JWT_ALGORITHMS, { error: `must list only ${SUPPORTED_JWT_ALGORITHMS.join(', ')} (never none)` })).min(1))
    .default(['HS256']),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  JWT_TENANT_CLAIM: z.string().min(1).default('tenantId'),
  JWT_CLOCK_TOLERANCE_S: int(0).default(0),
  WS_MAX_CONNECTIONS: int().default(1000),
  WS_ROOM_CAPACITY: int().default(100),
  WS_MAX_ROOMS_PER_CONNECTION: int().default(50),
  WS_HEARTBEAT_INTERVAL_MS: int().default(30_000),
  WS_MAX_PAYLOAD_BYTES: int().default(65_536),
  WS_MESSAGE_RATE_LIMIT: int().default(60),
  WS_MAX_CONNECTIONS_PER_IP: int(0).default(0),
  WS_MAX_CONNECTIONS_PER_USER: int(0).default(20),
  WS_MAX_CONNECTIONS_PER_TENANT: int(0).default(0),
  WS_MAX_BUFFERED_BYTES: int().default(1_048_576),
  WS_RATE_LIMIT_POINTS: int().default(20),
  WS_RATE_LIMIT_WINDOW_MS: int().default(10_000),
  WS_ALLOWED_ORIGINS: list.default([]),
  WS_TRUST_PROXY: z
    .string()
    .default('0')
    .transform((v) => (v === 'true' ? 1 : v === 'false' || v === '' ? 0 : Number(v)))
    .pipe(z.number({ error: 'must be a number of hops or true' }).int('must be an integer').min(0, 'must be at least 0')),
  WS_REAUTH_GRACE_MS: int().default(30_000),
  WS_RECONNECT_TOKEN_TTL_MS: int().default(300_000),
  WS_RESUME_BUFFER_MESSAGES: int().default(500),
  WS_RESUME_BUFFER_BYTES: int().default(1_048_576),
  WS_PRESENCE_LINGER_MS: int(0).default(0),
  WS_DRAIN_TIMEOUT_MS: int().default(10_000),
  WS_PER_MESSAGE_DEFLATE: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
  METRICS_ENABLED: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('true')
    .transform((v) => v === 'true'),
  METRICS_TENANT_LABEL_LIMIT: int(0).max(1000).default(20),
  METRICS_EVENT_LOOP_RESOLUTION_MS: int().max(10_000).default(100),
  HEALTH_CHECK_TIMEOUT_MS: int().max(60_000).default(1000),
  REDIS_URL: optionalString.pipe(
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
  ),
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((s) =>
      (s ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
    )
    .pipe(z.array(z.string().regex(/^[^:]+:\d+$/, 'must list host:port entries'))),
  REDIS_KEY_PREFIX: z.string().min(1).default('cm'),
  WS_INSTANCE_LEASE_MS: int(1000).default(15_000),
});

/** The names of every variable the demo app reads. */
export const ENV_KEYS = Object.keys(envShape.shape) as (keyof z.output<typeof envShape>)[];

export const envSchema = envShape.superRefine((env, ctx) => {
  const hs = env.JWT_ALGORITHMS.some((a) => a.startsWith('HS'));
  const asym = env.JWT_ALGORITHMS.some((a) => !a.startsWith('HS'));
  if (hs && !env.JWT_SECRET)
    ctx.addIssue({
      code: 'custom',
      path: ['JWT_SECRET'],
      message: `is required for ${env.JWT_ALGORITHMS.join(',')} (set JWT_SECRET, or JWT_PUBLIC_KEY with JWT_ALGORITHMS=RS256)`,
    });
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES.length > 0)
    ctx.addIssue({ code: 'custom', path: ['REDIS_CLUSTER_NODES'], message: 'cannot be combined with REDIS_URL (set one of them)' });
  if (asym && !env.JWT_PUBLIC_KEY) ctx.addIssue({ code: 'custom', path: ['JWT_PUBLIC_KEY'], message: 'is required for RS*/PS*/ES* algorithms' });
  // DEMO_MODE mints tokens for any tenant and user with the real JWT_SECRET, and its
  // POST /demo/drop is unauthenticated: never with NODE_ENV=production (whatever its case).
  if (env.DEMO_MODE && env.NODE_ENV?.trim().toLowerCase() === 'production')
    ctx.addIssue({
      code: 'custom',
      path: ['DEMO_MODE'],
      message: 'must not be true when NODE_ENV=production (it mints tokens for any user with JWT_SECRET and exposes an unauthenticated POST /demo/drop)',
    });
});

export type AppEnv = z.output<typeof envSchema>;

/** ConfigModule's `validate`: returns the typed env or throws one Error naming the variable(s). */
export function validateEnv(raw: Record<string, unknown>): AppEnv {
  const result = envSchema.safeParse(raw);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => `${String(i.path[0] ?? 'env')} ${i.message}`).join('; ');
  throw new Error(`Invalid configuration: ${detail}`);
}

/** Maps the validated env onto the module options. */
export function toConnectionManagerOptions(env: AppEnv): ConnectionManagerOptions {
  return {
    path: env.WS_PATH,
    jwt: {
      secret: env.JWT_SECRET,
      publicKey: env.JWT_PUBLIC_KEY,
      algorithms: env.JWT_ALGORITHMS,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      tenantClaim: env.JWT_TENANT_CLAIM,
      clockToleranceS: env.JWT_CLOCK_TOLERANCE_S,
    },
    maxConnections: env.WS_MAX_CONNECTIONS,
    roomCapacity: env.WS_ROOM_CAPACITY,
    maxRoomsPerConnection: env.WS_MAX_ROOMS_PER_CONNECTION,
    heartbeatIntervalMs: env.WS_HEARTBEAT_INTERVAL_MS,
    maxPayloadBytes: env.WS_MAX_PAYLOAD_BYTES,
    messageRateLimit: env.WS_MESSAGE_RATE_LIMIT,
    maxConnectionsPerIp: env.WS_MAX_CONNECTIONS_PER_IP,
    maxConnectionsPerUser: env.WS_MAX_CONNECTIONS_PER_USER,
    maxConnectionsPerTenant: env.WS_MAX_CONNECTIONS_PER_TENANT,
    maxBufferedBytes: env.WS_MAX_BUFFERED_BYTES,
    rateLimitPoints: env.WS_RATE_LIMIT_POINTS,
    rateLimitWindowMs: env.WS_RATE_LIMIT_WINDOW_MS,
    allowedOrigins: env.WS_ALLOWED_ORIGINS,
    trustProxyHops: env.WS_TRUST_PROXY,
    reauthGraceMs: env.WS_REAUTH_GRACE_MS,
    reconnectTokenTtlMs: env.WS_RECONNECT_TOKEN_TTL_MS,
    resumeBufferMessages: env.WS_RESUME_BUFFER_MESSAGES,
    resumeBufferBytes: env.WS_RESUME_BUFFER_BYTES,
    presenceLingerMs: env.WS_PRESENCE_LINGER_MS,
    drainTimeoutMs: env.WS_DRAIN_TIMEOUT_MS,
    perMessageDeflate: env.WS_PER_MESSAGE_DEFLATE,
    upgradeHeadersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
    instanceLeaseMs: env.WS_INSTANCE_LEASE_MS,
    redis:
      env.REDIS_URL || env.REDIS_CLUSTER_NODES.length > 0
        ? { url: env.REDIS_URL, clusterNodes: env.REDIS_CLUSTER_NODES.length > 0 ? env.REDIS_CLUSTER_NODES : undefined, keyPrefix: env.REDIS_KEY_PREFIX }
        : undefined,
  };
}

/** Nest's level names (LOG_LEVEL) as pino levels. */
const PINO_LEVEL: Record<AppEnv['LOG_LEVEL'], OpsLogLevel> = { error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

/** Maps the validated env onto the OpsModule options (health, metrics, JSON logs on stdout). */
export function toOpsOptions(env: AppEnv): OpsOptions {
  return {
    metrics: { enabled: env.METRICS_ENABLED, tenantLabelLimit: env.METRICS_TENANT_LABEL_LIMIT, eventLoopResolutionMs: env.METRICS_EVENT_LOOP_RESOLUTION_MS },
    health: { checkTimeoutMs: env.HEALTH_CHECK_TIMEOUT_MS },
    logging: { level: PINO_LEVEL[env.LOG_LEVEL] },
  };
}
