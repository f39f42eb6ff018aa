import { describe, expect, it } from 'vitest';
import { resolveConnectionManagerOptions, type ConnectionManagerOptions } from './connection-manager.options.js';

const jwt = { secret: 's3cret' };

/** The Error resolveConnectionManagerOptions throws for `input` (fails when it does not throw). */
function errorOf(input: unknown): string {
  try {
    resolveConnectionManagerOptions(input as ConnectionManagerOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return (err as Error).message;
  }
  throw new Error('expected the options to be refused');
}

describe('resolveConnectionManagerOptions', () => {
  it('applies the protocol defaults', () => {
    const o = resolveConnectionManagerOptions({ jwt });
    expect(o).toMatchObject({
      path: '/ws',
      maxConnections: 1000,
      roomCapacity: 100,
      heartbeatIntervalMs: 30_000,
      maxPayloadBytes: 65_536,
      messageRateLimit: 60,
      badFrameLimit: 10,
      badFrameWindowMs: 10_000,
      rateLimitPoints: 20,
      rateLimitWindowMs: 10_000,
      allowedOrigins: [],
      trustProxyHops: 0,
    });
    expect(o.jwt).toEqual({ secret: 's3cret', algorithms: ['HS256'], tenantClaim: 'tenantId', clockToleranceS: 0 });
    expect(o.redis).toBeUndefined();
  });

  it('keeps values that are given', () => {
    const o = resolveConnectionManagerOptions({
      jwt: { secret: 'x', tenantClaim: 'org', issuer: 'idp', audience: 'rt', clockToleranceS: 5 },
      path: '/rt',
      maxConnections: 2,
      allowedOrigins: ['https://a.example'],
      trustProxyHops: 1,
      rateLimitPoints: 3,
    });
    expect(o).toMatchObject({ path: '/rt', maxConnections: 2, allowedOrigins: ['https://a.example'], trustProxyHops: 1, rateLimitPoints: 3 });
    expect(o.jwt).toMatchObject({ tenantClaim: 'org', issuer: 'idp', audience: 'rt', clockToleranceS: 5 });
  });

  it('HS256 (the default) without a secret is an error naming jwt.secret', () => {
    expect(errorOf({ jwt: {} })).toMatch(/jwt\.secret/);
    expect(errorOf({ jwt: { algorithms: ['HS256'], publicKey: 'PEM' } })).toMatch(/jwt\.secret/);
    expect(errorOf({ jwt: { secret: '' } })).toMatch(/jwt\.secret/);
  });

  it('RS256 without a public key is an error naming jwt.publicKey', () => {
    expect(errorOf({ jwt: { algorithms: ['RS256'], secret: 'x' } })).toMatch(/jwt\.publicKey/);
    expect(resolveConnectionManagerOptions({ jwt: { algorithms: ['RS256'], publicKey: 'PEM' } }).jwt.algorithms).toEqual(['RS256']);
  });

  it('refuses none and unknown algorithms, and an empty allow-list', () => {
    expect(errorOf({ jwt: { secret: 'x', algorithms: ['none'] } })).toMatch(/jwt\.algorithms/);
    expect(errorOf({ jwt: { secret: 'x', algorithms: ['HS256', 'none'] } })).toMatch(/jwt\.algorithms/);
    expect(errorOf({ jwt: { secret: 'x', algorithms: ['HS1'] } })).toMatch(/jwt\.algorithms/);
    expect(errorOf({ jwt: { secret: 'x', algorithms: [] } })).toMatch(/jwt\.algorithms/);
  });

  it('refuses missing jwt options', () => {
    expect(errorOf({})).toMatch(/jwt/);
  });

  it.each([
    'maxConnections',
    'roomCapacity',
    'heartbeatIntervalMs',
    'maxPayloadBytes',
    'messageRateLimit',
    'rateLimitPoints',
    'rateLimitWindowMs',
    'badFrameLimit',
    'badFrameWindowMs',
  ])('refuses a non-positive or non-integer %s, naming it', (field) => {
    for (const value of [0, -1, 1.5, Number.NaN, '10']) {
      expect(errorOf({ jwt, [field]: value })).toContain(field);
    }
  });

  it('refuses negative trustProxyHops and clockToleranceS (0 is allowed)', () => {
    expect(errorOf({ jwt, trustProxyHops: -1 })).toContain('trustProxyHops');
    expect(errorOf({ jwt: { secret: 'x', clockToleranceS: -1 } })).toContain('jwt.clockToleranceS');
    expect(resolveConnectionManagerOptions({ jwt: { secret: 'x', clockToleranceS: 0 }, trustProxyHops: 0 }).trustProxyHops).toBe(0);
  });

  it('refuses a path that does not start with /', () => {
    expect(errorOf({ jwt, path: 'ws' })).toContain('path');
  });

  it('names every bad field in one error', () => {
    const message = errorOf({ jwt: {}, maxConnections: 0, roomCapacity: -5 });
    expect(message).toContain('jwt.secret');
    expect(message).toContain('maxConnections');
    expect(message).toContain('roomCapacity');
    expect(message).not.toContain('\n');
  });
});
