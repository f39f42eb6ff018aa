import { z } from 'zod';

/** Algorithms that may appear in the allow-list. `none` is never accepted. */
export const SUPPORTED_JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;
export type JwtAlgorithm = (typeof SUPPORTED_JWT_ALGORITHMS)[number];

const positiveInt = z.number().int().positive();

/**
 * Options of {@link ConnectionManagerModule}. Every field but the JWT key is optional;
 * the defaults written here are the protocol's (docs/configuration.md lists the env names).
 */
export const connectionManagerOptionsSchema = z
  .object({
    /** WebSocket path on the app's HTTP server. Default `/ws`. Other paths are never this module's. */
    path: z.string().startsWith('/').default('/ws'),
    jwt: z.object({
      /** HMAC secret for HS* algorithms. */
      secret: z.string().min(1).optional(),
      /** PEM public key (SPKI or certificate) for RS*, PS* and ES* algorithms. */
      publicKey: z.string().min(1).optional(),
      /** Allow-list. Default `['HS256']`. */
      algorithms: z.array(z.enum(SUPPORTED_JWT_ALGORITHMS)).min(1).default(['HS256']),
      /** Checked when set. */
      issuer: z.string().min(1).optional(),
      /** Checked when set; a token's `aud` may be a string or an array (one match suffices). */
      audience: z.string().min(1).optional(),
      /** Claim holding the tenant id. Default `tenantId`. */
      tenantClaim: z.string().min(1).default('tenantId'),
      /** Leeway for `exp`/`nbf`, seconds. Default 0. */
      clockToleranceS: z.number().int().min(0).default(0),
    }),
    /** Connections one instance holds; more get 503 SERVER_FULL. Default 1000. */
    maxConnections: positiveInt.default(1000),
    /** Distinct users per room; default 100. A member's further tabs always get in. */
    roomCapacity: positiveInt.default(100),
    /**
     * Rooms one connection may be in at once; a join of one more gets TOO_MANY_ROOMS (joining a
     * room it is already in still succeeds). Default 50. Each room costs the connection a seat
     * in the membership store and, in cluster mode, Redis writes on join and leave.
     */
    maxRoomsPerConnection: positiveInt.default(50),
    /** Protocol ping interval; a connection silent for a whole interval is terminated. Default 30000. */
    heartbeatIntervalMs: positiveInt.default(30_000),
    /** Largest accepted frame; larger closes with 1009. Default 65536. */
    maxPayloadBytes: positiveInt.default(65_536),
    /** Client frames per second per connection; the excess gets RATE_LIMITED and is dropped. Default 60. */
    messageRateLimit: positiveInt.default(60),
    /**
     * Invalid frames tolerated per `badFrameWindowMs` before a 1008 close. Default 10 in 10000 ms.
     * The same window bounds rate-limited frames: more than 10 × `messageRateLimit` of them in it
     * also closes with 1008.
     */
    badFrameLimit: positiveInt.default(10),
    badFrameWindowMs: positiveInt.default(10_000),
    /**
     * Open connections one client IP may hold on this instance; more get 429. 0 (default) means
     * no cap beyond `maxConnections` (offices behind one NAT share an address: size it to them).
     */
    maxConnectionsPerIp: z.number().int().min(0).default(0),
    /**
     * Open connections one user (a tenant's `sub`) may hold across the whole cluster: tabs and
     * devices. More get 429 QUOTA_EXCEEDED (`quota: "user"`). 0 means no cap. Default 20.
     */
    maxConnectionsPerUser: z.number().int().min(0).default(20),
    /**
     * Open connections one tenant may hold across the whole cluster, unless a TenantQuotaPolicy
     * says otherwise for it. More get 429 QUOTA_EXCEEDED (`quota: "tenant"`). 0 (default) means no cap.
     */
    maxConnectionsPerTenant: z.number().int().min(0).default(0),
    /** How long a TenantQuotaPolicy's answer for a tenant is reused (at most 10000 tenants cached). Default 60000. */
    tenantQuotaCacheMs: z.number().int().min(0).default(60_000),
    /**
     * Bytes a connection may have queued and unsent before it counts as a slow consumer and is
     * closed with 1013 (resumable). Default 1048576 (1 MiB).
     */
    maxBufferedBytes: positiveInt.default(1_048_576),
    /** Upgrade attempts per client IP per window (every attempt counts). Default 20 per 10000 ms. */
    rateLimitPoints: positiveInt.default(20),
    rateLimitWindowMs: positiveInt.default(10_000),
    /** Allowed `Origin` values; empty means every origin. A request without Origin always passes. */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    /** Trusted proxy hops for X-Forwarded-For; 0 ignores the header. Default 0. */
    trustProxyHops: z.number().int().min(0).default(0),
    /** How long a connection keeps working after its token expired, waiting for `reauth`. Default 30000. */
    reauthGraceMs: positiveInt.default(30_000),
    /** How long after a close its reconnect token can resume the session. Default 300000 (5 min). */
    reconnectTokenTtlMs: positiveInt.default(300_000),
    /** Replay bound per away session: messages and bytes. Defaults 500 and 1048576. */
    resumeBufferMessages: positiveInt.default(500),
    resumeBufferBytes: positiveInt.default(1_048_576),
    /**
     * How long an away user (resumable close) stays in presence before presence_leave is sent.
     * 0 (default) sends presence_leave at once; a few seconds avoids cursor flicker on brief drops.
     */
    presenceLingerMs: z.number().int().min(0).default(0),
    /** Bounded wait for close handshakes on shutdown. Default 10000. */
    drainTimeoutMs: positiveInt.default(10_000),
    /**
     * Offer permessage-deflate (RFC 7692) to clients that ask for it (browsers always do).
     * Default false: for cursor- and stroke-sized frames it costs CPU per delivery (a broadcast
     * is then compressed once per recipient, each socket having its own compression context)
     * and ~300 KB of zlib memory per connection under load, for fewer bytes on the wire;
     * docs/performance.md has the measured trade-off. When on, frames under 1 KiB are sent
     * uncompressed (ws's threshold), and no context is kept between messages.
     */
    perMessageDeflate: z.boolean().default(false),
    /**
     * Slow upgrades (slowloris: headers dribbled a byte at a time): the adapter sets the HTTP
     * server's `headersTimeout` to this when it attaches the WebSocket server, so an upgrade
     * whose headers are not complete within it is dropped (Node checks every 30 s, so the drop
     * comes up to 30 s later). It bounds the headers of every request of that server, not only
     * upgrades. A tighter `headersTimeout` the host set itself is kept; 0 leaves the server's
     * setting alone (Node's default is 60000). Default 10000.
     */
    upgradeHeadersTimeoutMs: z.number().int().min(0).default(10_000),
    /**
     * Cluster mode: set `url` (one Redis) or `clusterNodes` (host:port seeds of a Redis Cluster).
     * Unset (default): everything stays in this process.
     */
    redis: z
      .object({
        url: z.string().min(1).optional(),
        clusterNodes: z.array(z.string().regex(/^[^:]+:\d+$/, 'must be host:port')).optional(),
        /** Prefix of every key and channel. Default `cm`. */
        keyPrefix: z.string().min(1).default('cm'),
      })
      .refine((r) => Boolean(r.url) !== Boolean(r.clusterNodes?.length), 'set exactly one of url or clusterNodes')
      .optional(),
    /**
     * Cluster mode: an instance renews its lease every third of this; one that misses it (killed)
     * is purged by the others (its memberships and presence removed). Default 15000.
     */
    instanceLeaseMs: positiveInt.default(15_000),
    /** Seconds sent in Retry-After for 503 refusals. Default 5. */
    retryAfterS: positiveInt.default(5),
  })
  .superRefine((o, ctx) => {
    const needsSecret = o.jwt.algorithms.some((a) => a.startsWith('HS'));
    const needsKey = o.jwt.algorithms.some((a) => !a.startsWith('HS'));
    if (needsSecret && !o.jwt.secret)
      ctx.addIssue({ code: 'custom', path: ['jwt', 'secret'], message: 'an HS* algorithm is allowed but no JWT secret is set' });
    if (needsKey && !o.jwt.publicKey)
      ctx.addIssue({ code: 'custom', path: ['jwt', 'publicKey'], message: 'an RS*/PS*/ES* algorithm is allowed but no JWT public key is set' });
  });

/** What a host passes to `forRoot`: defaults filled in for anything left out. */
export type ConnectionManagerOptions = z.input<typeof connectionManagerOptionsSchema>;
/** Options after validation, every default applied. */
export type ResolvedConnectionManagerOptions = z.output<typeof connectionManagerOptionsSchema>;

/** Validates and fills defaults; throws one Error naming every bad field. */
export function resolveConnectionManagerOptions(input: ConnectionManagerOptions): ResolvedConnectionManagerOptions {
  const result = connectionManagerOptionsSchema.safeParse(input);
  if (!result.success) {
    const detail = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`Invalid ConnectionManagerModule options: ${detail}`);
  }
  return result.data;
}
