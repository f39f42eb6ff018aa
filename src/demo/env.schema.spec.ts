import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { resolveConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import { JwtAuthenticator, createConnectionManagerJwtService } from '../ws/auth.js';
import { resolveOpsOptions } from '../ops/ops.options.js';
import { toConnectionManagerOptions, toOpsOptions, validateEnv } from './env.schema.js';

const base = { JWT_SECRET: 'env-secret' };

/** The message validateEnv throws for `env` (fails when it does not throw). */
function errorOf(env: Record<string, unknown>): string {
  try {
    validateEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    return message;
  }
  throw new Error('expected the environment to be refused');
}

describe('validateEnv', () => {
  it('applies the defaults', () => {
    expect(validateEnv(base)).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      DEMO_MODE: false,
      WS_PATH: '/ws',
      JWT_SECRET: 'env-secret',
      JWT_ALGORITHMS: ['HS256'],
      JWT_TENANT_CLAIM: 'tenantId',
      JWT_CLOCK_TOLERANCE_S: 0,
      WS_MAX_CONNECTIONS: 1000,
      WS_ROOM_CAPACITY: 100,
      WS_MAX_ROOMS_PER_CONNECTION: 50,
      WS_HEARTBEAT_INTERVAL_MS: 30_000,
      WS_MAX_PAYLOAD_BYTES: 65_536,
      WS_MESSAGE_RATE_LIMIT: 60,
      WS_RATE_LIMIT_POINTS: 20,
      WS_RATE_LIMIT_WINDOW_MS: 10_000,
      WS_ALLOWED_ORIGINS: [],
      WS_TRUST_PROXY: 0,
    });
  });

  it('the defaults map onto valid module options with the protocol defaults', () => {
    const o = resolveConnectionManagerOptions(toConnectionManagerOptions(validateEnv(base)));
    expect(o).toMatchObject({
      path: '/ws',
      maxConnections: 1000,
      roomCapacity: 100,
      maxRoomsPerConnection: 50,
      rateLimitPoints: 20,
      rateLimitWindowMs: 10_000,
      trustProxyHops: 0,
      allowedOrigins: [],
    });
    expect(o.jwt).toMatchObject({ secret: 'env-secret', algorithms: ['HS256'], tenantClaim: 'tenantId', clockToleranceS: 0 });
  });

  it('DEMO_MODE=true with NODE_ENV=production → one single-line error naming DEMO_MODE; fine in any other NODE_ENV', () => {
    for (const nodeEnv of ['production', 'Production', ' production ']) {
      const message = errorOf({ ...base, DEMO_MODE: 'true', NODE_ENV: nodeEnv });
      expect(message).toMatch(/^Invalid configuration: DEMO_MODE /);
      expect(message).toContain('NODE_ENV=production');
    }
    expect(validateEnv({ ...base, DEMO_MODE: 'true', NODE_ENV: 'development' }).DEMO_MODE).toBe(true);
    expect(validateEnv({ ...base, DEMO_MODE: 'true' }).DEMO_MODE).toBe(true);
    expect(validateEnv({ ...base, DEMO_MODE: 'false', NODE_ENV: 'production' }).DEMO_MODE).toBe(false);
  });

  it('reads numbers from strings', () => {
    const env = validateEnv({ ...base, PORT: '8080', WS_MAX_CONNECTIONS: '2', WS_RATE_LIMIT_POINTS: '5', JWT_CLOCK_TOLERANCE_S: '30' });
    expect(env).toMatchObject({ PORT: 8080, WS_MAX_CONNECTIONS: 2, WS_RATE_LIMIT_POINTS: 5, JWT_CLOCK_TOLERANCE_S: 30 });
  });

  it('WS_MAX_ROOMS_PER_CONNECTION maps onto maxRoomsPerConnection', () => {
    const o = resolveConnectionManagerOptions(toConnectionManagerOptions(validateEnv({ ...base, WS_MAX_ROOMS_PER_CONNECTION: '200' })));
    expect(o.maxRoomsPerConnection).toBe(200);
  });

  it('METRICS_EVENT_LOOP_RESOLUTION_MS maps onto metrics.eventLoopResolutionMs (default 100, 1 to 10000)', () => {
    expect(resolveOpsOptions(toOpsOptions(validateEnv(base))).metrics.eventLoopResolutionMs).toBe(100);
    expect(resolveOpsOptions(toOpsOptions(validateEnv({ ...base, METRICS_EVENT_LOOP_RESOLUTION_MS: '10' }))).metrics.eventLoopResolutionMs).toBe(10);
    expect(errorOf({ ...base, METRICS_EVENT_LOOP_RESOLUTION_MS: '0' })).toMatch(/METRICS_EVENT_LOOP_RESOLUTION_MS/);
    expect(errorOf({ ...base, METRICS_EVENT_LOOP_RESOLUTION_MS: '10001' })).toMatch(/METRICS_EVENT_LOOP_RESOLUTION_MS/);
  });

  it('JWT_SECRET missing (or blank) → one single-line error naming JWT_SECRET only', () => {
    for (const env of [{}, { JWT_SECRET: '' }, { JWT_SECRET: '   ' }]) {
      const message = errorOf(env);
      expect(message).toContain('JWT_SECRET');
      expect(message).not.toMatch(/WS_|PORT/);
    }
  });

  it('non-numeric WS_MAX_CONNECTIONS → an error naming WS_MAX_CONNECTIONS', () => {
    const message = errorOf({ ...base, WS_MAX_CONNECTIONS: 'abc' });
    expect(message).toContain('WS_MAX_CONNECTIONS');
    expect(message).not.toContain('JWT_SECRET');
  });

  it.each([
    'WS_MAX_CONNECTIONS',
    'WS_ROOM_CAPACITY',
    'WS_MAX_ROOMS_PER_CONNECTION',
    'WS_HEARTBEAT_INTERVAL_MS',
    'WS_MAX_PAYLOAD_BYTES',
    'WS_MESSAGE_RATE_LIMIT',
    'WS_RATE_LIMIT_POINTS',
    'WS_RATE_LIMIT_WINDOW_MS',
  ])('%s must be a positive integer', (name) => {
    for (const value of ['abc', '0', '-3', '1.5', '10ms']) expect(errorOf({ ...base, [name]: value })).toContain(name);
  });

  it('PORT and JWT_CLOCK_TOLERANCE_S must be numbers (0 allowed)', () => {
    expect(errorOf({ ...base, PORT: 'http' })).toContain('PORT');
    expect(errorOf({ ...base, PORT: '70000' })).toContain('PORT');
    expect(errorOf({ ...base, JWT_CLOCK_TOLERANCE_S: 'soon' })).toContain('JWT_CLOCK_TOLERANCE_S');
    expect(validateEnv({ ...base, PORT: '0', JWT_CLOCK_TOLERANCE_S: '0' })).toMatchObject({ PORT: 0, JWT_CLOCK_TOLERANCE_S: 0 });
  });

  it('comma lists are split and trimmed, empty entries dropped', () => {
    const env = validateEnv({ ...base, WS_ALLOWED_ORIGINS: ' https://a.example ,https://b.example ,, ' });
    expect(env.WS_ALLOWED_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
    const both = validateEnv({ ...base, JWT_PUBLIC_KEY: 'PEM', JWT_ALGORITHMS: ' HS256 , RS256 ' });
    expect(both.JWT_ALGORITHMS).toEqual(['HS256', 'RS256']);
  });

  it('WS_TRUST_PROXY: true means 1, a number is the hop count, unset/false is 0', () => {
    expect(validateEnv({ ...base, WS_TRUST_PROXY: 'true' }).WS_TRUST_PROXY).toBe(1);
    expect(validateEnv({ ...base, WS_TRUST_PROXY: '2' }).WS_TRUST_PROXY).toBe(2);
    expect(validateEnv({ ...base, WS_TRUST_PROXY: 'false' }).WS_TRUST_PROXY).toBe(0);
    expect(validateEnv({ ...base, WS_TRUST_PROXY: '0' }).WS_TRUST_PROXY).toBe(0);
    expect(validateEnv(base).WS_TRUST_PROXY).toBe(0);
    expect(resolveConnectionManagerOptions(toConnectionManagerOptions(validateEnv({ ...base, WS_TRUST_PROXY: 'true' }))).trustProxyHops).toBe(1);
    for (const bad of ['yes', '-1', '1.5']) expect(errorOf({ ...base, WS_TRUST_PROXY: bad })).toContain('WS_TRUST_PROXY');
  });

  it('JWT_ALGORITHMS=none is refused, alone or in a list', () => {
    for (const algs of ['none', 'HS256,none', 'NONE', 'HS1']) expect(errorOf({ ...base, JWT_ALGORITHMS: algs })).toContain('JWT_ALGORITHMS');
  });

  it('RS256 needs JWT_PUBLIC_KEY (and then no JWT_SECRET)', () => {
    const message = errorOf({ JWT_ALGORITHMS: 'RS256' });
    expect(message).toContain('JWT_PUBLIC_KEY');
    expect(validateEnv({ JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: 'PEM' }).JWT_SECRET).toBeUndefined();
  });

  it('JWT_PUBLIC_KEY with \\n escapes (one env line) is accepted and verifies RS256 tokens', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const oneLine = publicKey.trim().replace(/\n/g, '\\n');
    expect(oneLine).not.toContain('\n');
    const env = validateEnv({ JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: oneLine });
    const options = resolveConnectionManagerOptions(toConnectionManagerOptions(env));
    const auth = new JwtAuthenticator(options, createConnectionManagerJwtService(options));
    const token = jwt.sign({ sub: 'u1', tenantId: 't1' }, privateKey, { algorithm: 'RS256', expiresIn: 60 });
    expect(auth.verify(token)).toMatchObject({ userId: 'u1', tenantId: 't1' });
  });

  it('names every bad variable when several are wrong, still on one line', () => {
    const message = errorOf({ ...base, WS_MAX_CONNECTIONS: 'abc', WS_ROOM_CAPACITY: 'x' });
    for (const name of ['WS_MAX_CONNECTIONS', 'WS_ROOM_CAPACITY']) expect(message).toContain(name);
  });
});
