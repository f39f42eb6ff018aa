import jwt from 'jsonwebtoken';
import { describe, expect, it, vi } from 'vitest';
import { domainFixtures, type DomainFixture, type DomainFixtureOptions } from '../../../test/support/domain-fixture.js';
import { MemoryUpgradeRateLimiter } from '../../backends/memory/memory-upgrade-rate-limiter.js';
import { ConnectionManagerEvent } from '../../kernel/connection-manager.events.js';
import { JwtAuthenticator, createConnectionManagerJwtService } from '../../ws/auth.js';
import type { UpgradeRateLimiter } from '../ports/upgrade-rate-limiter.port.js';
import type { AdmissionDecision, UpgradeAttempt } from './admission.types.js';
import { ConnectionAdmissionService } from './connection-admission.service.js';
import { LifecycleState } from './lifecycle-state.js';

/**
 * The upgrade's admission, refusal by refusal, in the protocol's order: draining 503 → IP
 * attempt rate 429 (Retry-After from the limiter) → IP open connections 429 → Origin 403 →
 * SERVER_FULL 503 → JWT / reconnect token 401 (503 when the session store is down). Built on
 * the real in-memory rate limiter and session store and the real JWT verifier; every refusal
 * must give back the connection slot and the IP slot it took.
 */

const SECRET = 'admission-spec-secret';
const sign = (claims: Record<string, unknown> = {}) =>
  jwt.sign({ sub: 'ann', tenantId: 't1', exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, SECRET, { algorithm: 'HS256' });

interface Admission {
  f: DomainFixture;
  admission: ConnectionAdmissionService;
  limiter: UpgradeRateLimiter;
  lifecycle: LifecycleState;
  /** An attempt from 10.0.0.1 with a valid JWT, unless overridden. */
  admit(attempt?: Partial<UpgradeAttempt>): Promise<AdmissionDecision>;
}

const fixture = domainFixtures();
function setup(init: DomainFixtureOptions & { limiter?: UpgradeRateLimiter } = {}): Admission {
  const f = fixture({ ...init, options: { ...init.options, jwt: { secret: SECRET } } });
  const limiter = init.limiter ?? new MemoryUpgradeRateLimiter({ points: f.options.rateLimitPoints, windowMs: f.options.rateLimitWindowMs });
  const verifier = new JwtAuthenticator(f.options, createConnectionManagerJwtService(f.options));
  const lifecycle = new LifecycleState();
  const admission = new ConnectionAdmissionService(f.options, limiter, verifier, f.connections, lifecycle, f.sessions, f.publisher, f.quotas);
  return {
    f,
    admission,
    limiter,
    lifecycle,
    admit: (attempt = {}) => admission.admit({ ip: '10.0.0.1', origin: undefined, token: sign(), reconnectToken: undefined, ...attempt }),
  };
}

/** The refusal of a decision (fails the test when it was admitted). */
function refusal(decision: AdmissionDecision) {
  expect(decision.ok).toBe(false);
  return decision.ok ? undefined : decision.refusal;
}

/** An away session of ann (t1) and its reconnect token. */
async function awaySession(f: DomainFixture, identity: { userId?: string; tenantId?: string } = {}): Promise<{ token: string; sessionId: string }> {
  const { connection, token } = await f.open({ userId: 'ann', tenantId: 't1', ...identity });
  await f.socketClosed(connection);
  return { token, sessionId: connection.sessionId };
}

describe('ConnectionAdmissionService: admitted upgrades', () => {
  it('a valid JWT is admitted with its identity and ip; the upgrade holds a connection slot and an IP slot', async () => {
    const a = setup({ options: { maxConnections: 1, maxConnectionsPerIp: 1 } });
    const decision = await a.admit({ token: sign({ name: 'Ann' }) });
    expect(decision).toEqual({
      ok: true,
      upgrade: {
        connectionId: expect.any(String),
        identity: { userId: 'ann', tenantId: 't1', name: 'Ann', canvases: undefined, expiresAt: expect.any(Number) },
        credentialDeadline: (decision.ok ? decision.upgrade.identity.expiresAt : 0) + a.f.options.reauthGraceMs,
        ip: '10.0.0.1',
      },
    });
    expect(a.f.connections.tryReserve()).toBe(false);
    expect(a.f.connections.tryReserveIp('10.0.0.1')).toBe(false);
    expect(a.f.eventsNamed(ConnectionManagerEvent.ConnectionRefused)).toEqual([]);
  });

  it('a reconnect token alone resumes its session with the identity it had; the token is used up', async () => {
    const a = setup();
    const { token, sessionId } = await awaySession(a.f);
    const decision = await a.admit({ token: undefined, reconnectToken: token });
    expect(decision).toMatchObject({ ok: true, upgrade: { identity: { userId: 'ann', tenantId: 't1' }, ip: '10.0.0.1', resume: { sessionId } } });
    expect(refusal(await a.admit({ token: undefined, reconnectToken: token }))).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
      message: 'invalid or expired reconnect token',
    });
  });

  it('a reconnect token with a JWT of the same user resumes under the new JWT (its expiry governs)', async () => {
    const a = setup();
    const { token } = await awaySession(a.f);
    const exp = Math.floor(Date.now() / 1000) + 7200;
    const decision = await a.admit({ token: sign({ exp }), reconnectToken: token });
    expect(decision).toMatchObject({ ok: true, upgrade: { identity: { userId: 'ann', expiresAt: exp * 1000 }, resume: { userId: 'ann' } } });
  });
});

describe('ConnectionAdmissionService: the refusals, in order', () => {
  it('draining: 503 DRAINING with Retry-After, before every other check (nothing counted, nothing taken)', async () => {
    const a = setup({ options: { rateLimitPoints: 1, maxConnections: 1, allowedOrigins: ['https://app.example'], retryAfterS: 7 } });
    expect((await a.admit()).ok).toBe(true); // uses the IP's one attempt and the one slot
    a.lifecycle.draining = true;
    const r = refusal(await a.admit({ origin: 'https://evil.example', token: 'garbage' }));
    expect(r).toEqual({ status: 503, code: 'DRAINING', message: 'server is restarting, reconnect to another instance', retryAfterS: 7 });
    expect(await a.limiter.attempts('10.0.0.1')).toBe(1);
  });

  it('IP attempt rate: 429 RATE_LIMITED with Retry-After from the limiter (fake clock); refused attempts count too', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const a = setup({ options: { rateLimitPoints: 2, rateLimitWindowMs: 10_000, allowedOrigins: ['https://app.example'] } });
    expect(refusal(await a.admit({ origin: 'https://evil.example' }))?.status).toBe(403); // counted
    expect((await a.admit()).ok).toBe(true);
    vi.setSystemTime(1_003_500);
    const r = refusal(await a.admit());
    // 6.5 s left in the window: rounded up, not the configured retryAfterS (5).
    expect(r).toEqual({ status: 429, code: 'RATE_LIMITED', message: 'too many connection attempts', retryAfterS: 7 });
    // Another IP has its own budget.
    expect((await a.admit({ ip: '10.0.0.2' })).ok).toBe(true);
  });

  it.each([
    [2500, 3],
    [1, 1],
    [0, 1],
  ])('Retry-After is the limiter\u2019s retryAfterMs %i rounded up to whole seconds (%i), at least 1', async (retryAfterMs, seconds) => {
    const a = setup({ limiter: { consume: async () => ({ allowed: false, retryAfterMs }), attempts: async () => 0, fallbacks: 0 } });
    expect(refusal(await a.admit())).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfterS: seconds });
  });

  it('a limiter that cannot count at all refuses with 503 UNAVAILABLE (a flood must not get through)', async () => {
    const a = setup({ options: { retryAfterS: 3 }, limiter: { consume: () => Promise.reject(new Error('down')), attempts: async () => 0, fallbacks: 0 } });
    expect(refusal(await a.admit())).toEqual({ status: 503, code: 'UNAVAILABLE', message: 'rate limiter unavailable', retryAfterS: 3 });
  });

  it('IP open connections: 429 RATE_LIMITED past maxConnectionsPerIp, before Origin; other IPs unaffected', async () => {
    const a = setup({ options: { maxConnectionsPerIp: 1, allowedOrigins: ['https://app.example'], retryAfterS: 4 } });
    expect((await a.admit()).ok).toBe(true);
    expect(refusal(await a.admit({ origin: 'https://evil.example' }))).toEqual({
      status: 429,
      code: 'RATE_LIMITED',
      message: 'too many open connections from this address',
      retryAfterS: 4,
    });
    expect((await a.admit({ ip: '10.0.0.2' })).ok).toBe(true);
  });

  it('Origin: 403 ORIGIN_NOT_ALLOWED when not in allowedOrigins (no Retry-After), before capacity; no Origin passes', async () => {
    const a = setup({ options: { allowedOrigins: ['https://app.example'], maxConnections: 1 } });
    expect((await a.admit({ origin: undefined })).ok).toBe(true); // takes the one slot
    expect(refusal(await a.admit({ origin: 'https://evil.example' }))).toEqual({ status: 403, code: 'ORIGIN_NOT_ALLOWED', message: 'origin not allowed' });
    expect(refusal(await a.admit({ origin: 'https://app.example' }))?.code).toBe('SERVER_FULL');
  });

  it('capacity: 503 SERVER_FULL with Retry-After at maxConnections, before the credentials are looked at', async () => {
    const a = setup({ options: { maxConnections: 1, retryAfterS: 9 } });
    expect((await a.admit()).ok).toBe(true);
    expect(refusal(await a.admit({ token: 'garbage' }))).toEqual({
      status: 503,
      code: 'SERVER_FULL',
      message: 'server is at its connection limit',
      retryAfterS: 9,
    });
  });

  it.each<[string, string | undefined, string]>([
    ['missing', undefined, 'missing credentials'],
    ['an empty (malformed) Authorization header', '', 'missing credentials'],
    ['not a JWT', 'garbage', 'invalid token'],
    ['signed with another key', jwt.sign({ sub: 'ann', tenantId: 't1', exp: Math.floor(Date.now() / 1000) + 60 }, 'other-secret'), 'invalid token'],
    ['expired', sign({ exp: Math.floor(Date.now() / 1000) - 60 }), 'token expired'],
    ['without a tenant', sign({ tenantId: undefined }), 'token has no tenantId'],
  ])('JWT %s: 401 UNAUTHORIZED with the verifier\u2019s message (no Retry-After)', async (_what, token, message) => {
    const a = setup();
    expect(refusal(await a.admit({ token }))).toEqual({ status: 401, code: 'UNAUTHORIZED', message });
  });

  it('reconnect token of another user (or the same user id in another tenant) with a JWT: 401, and the token stays valid', async () => {
    const a = setup();
    const { token } = await awaySession(a.f, { userId: 'ann', tenantId: 't1' });
    for (const claims of [{ sub: 'bob' }, { tenantId: 't2' }]) {
      expect(refusal(await a.admit({ token: sign(claims), reconnectToken: token }))).toEqual({
        status: 401,
        code: 'UNAUTHORIZED',
        message: 'token does not match the session',
      });
    }
    expect((await a.admit({ reconnectToken: token })).ok).toBe(true);
  });

  it('an unknown reconnect token: 401; a bad JWT next to a good reconnect token: 401 and the token stays valid', async () => {
    const a = setup();
    const { token } = await awaySession(a.f);
    expect(refusal(await a.admit({ token: undefined, reconnectToken: 'unknown-token' }))).toMatchObject({
      status: 401,
      message: 'invalid or expired reconnect token',
    });
    expect(refusal(await a.admit({ token: 'garbage', reconnectToken: token }))).toMatchObject({ status: 401, message: 'invalid token' });
    expect((await a.admit({ token: undefined, reconnectToken: token })).ok).toBe(true);
  });

  it('a refusal before the credentials (Origin) keeps the reconnect token valid', async () => {
    const a = setup({ options: { allowedOrigins: ['https://app.example'] } });
    const { token } = await awaySession(a.f);
    expect(refusal(await a.admit({ origin: 'https://evil.example', token: undefined, reconnectToken: token }))?.status).toBe(403);
    expect((await a.admit({ origin: 'https://app.example', token: undefined, reconnectToken: token })).ok).toBe(true);
  });

  it('a session whose away time has run out: 401 even before the store has dropped it (fake clock)', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const a = setup({ options: { reconnectTokenTtlMs: 60_000 } });
    const { token } = await awaySession(a.f);
    vi.setSystemTime(1_060_000); // the store's expiry timer has not run yet
    expect(await a.f.sessions.find(token)).toBeDefined();
    expect(refusal(await a.admit({ token: undefined, reconnectToken: token }))).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
      message: 'invalid or expired reconnect token',
    });
  });

  it.each(['find', 'claim'] as const)('the session store rejecting on %s: 503 UNAVAILABLE with Retry-After', async (method) => {
    const a = setup({ options: { retryAfterS: 6 } });
    const { token } = await awaySession(a.f);
    vi.spyOn(a.f.sessionStore, method).mockRejectedValueOnce(new Error('ECONNREFUSED'));
    expect(refusal(await a.admit({ token: undefined, reconnectToken: token }))).toEqual({
      status: 503,
      code: 'UNAVAILABLE',
      message: 'sessions are temporarily unavailable, retry later',
      retryAfterS: 6,
    });
    // A fresh JWT upgrade does not need the session store.
    expect((await a.admit()).ok).toBe(true);
  });

  it('a verifier that fails unexpectedly is a 401, never a crash', async () => {
    const a = setup();
    vi.spyOn(JwtAuthenticator.prototype, 'verify').mockImplementationOnce(() => {
      throw new TypeError('bug');
    });
    expect(refusal(await a.admit())).toEqual({ status: 401, code: 'UNAUTHORIZED', message: 'invalid token' });
  });

  it('every refusal is published as connection.refused (status, code, ip); an admission is not', async () => {
    const a = setup({ options: { allowedOrigins: ['https://app.example'] } });
    await a.admit({ ip: '10.0.0.9', origin: 'https://evil.example' });
    await a.admit({ ip: '10.0.0.9', token: 'garbage' });
    await a.admit({ ip: '10.0.0.9' });
    expect(a.f.eventsNamed(ConnectionManagerEvent.ConnectionRefused)).toEqual([
      { status: 403, code: 'ORIGIN_NOT_ALLOWED', ip: '10.0.0.9' },
      { status: 401, code: 'UNAUTHORIZED', ip: '10.0.0.9' },
    ]);
  });
});

describe('ConnectionAdmissionService: a refusal gives back every slot it took', () => {
  // maxConnections 1 and maxConnectionsPerIp 1: if a refusal kept either slot, the valid
  // attempt after it would be refused (SERVER_FULL or the IP's 429).
  const cases: Array<[string, (a: Admission) => Promise<Partial<UpgradeAttempt>> | Partial<UpgradeAttempt>, number]> = [
    ['Origin 403 (after the IP slot)', () => ({ origin: 'https://evil.example' }), 403],
    ['bad JWT 401 (after both slots)', () => ({ token: 'garbage' }), 401],
    ['missing JWT 401', () => ({ token: undefined }), 401],
    ['unknown reconnect token 401', () => ({ token: undefined, reconnectToken: 'unknown' }), 401],
    [
      'identity mismatch 401',
      async (a) => {
        const { token } = await awaySession(a.f);
        return { token: sign({ sub: 'bob' }), reconnectToken: token };
      },
      401,
    ],
    [
      'session store down 503',
      async (a) => {
        const { token } = await awaySession(a.f);
        vi.spyOn(a.f.sessionStore, 'find').mockRejectedValueOnce(new Error('down'));
        return { token: undefined, reconnectToken: token };
      },
      503,
    ],
  ];
  it.each(cases)('%s', async (_what, attempt, status) => {
    const a = setup({ options: { maxConnections: 1, maxConnectionsPerIp: 1, allowedOrigins: ['https://app.example'] } });
    const refused = refusal(await a.admit(await attempt(a)));
    expect(refused?.status).toBe(status);
    expect((await a.admit()).ok).toBe(true);
  });

  it('SERVER_FULL gives the IP slot back', async () => {
    const a = setup({ options: { maxConnections: 1, maxConnectionsPerIp: 1 } });
    expect((await a.admit({ ip: '10.0.0.2' })).ok).toBe(true);
    expect(refusal(await a.admit())?.code).toBe('SERVER_FULL');
    a.f.connections.releaseReservation(); // the other upgrade went away
    expect((await a.admit()).ok).toBe(true);
  });

  it('rate and IP-cap refusals take no connection slot', async () => {
    const a = setup({ options: { maxConnections: 2, maxConnectionsPerIp: 1, rateLimitPoints: 2 } });
    expect((await a.admit()).ok).toBe(true);
    expect(refusal(await a.admit())?.message).toBe('too many open connections from this address');
    expect(refusal(await a.admit())?.message).toBe('too many connection attempts');
    // The second slot is still free: neither refusal kept one.
    expect((await a.admit({ ip: '10.0.0.2' })).ok).toBe(true);
  });
});

describe('ConnectionAdmissionService: the session credential deadline (issue 12 §1)', () => {
  /** An away session of ann whose JWT expires at `exp` (ms); the clock is then set to `at`. */
  async function awayUntilDeadline(a: Admission, exp: number): Promise<{ token: string; sessionId: string }> {
    const { connection, token } = await a.f.open({ userId: 'ann', tenantId: 't1', expiresAt: exp });
    await a.f.socketClosed(connection);
    return { token, sessionId: connection.sessionId };
  }

  it('a reconnect token alone carries the session deadline (not a new one); after exp but before it, still admitted', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const a = setup({ options: { reauthGraceMs: 30_000 } });
    const { token } = await awayUntilDeadline(a, 1_010_000);
    vi.setSystemTime(1_020_000); // past exp, inside the grace
    const decision = await a.admit({ token: undefined, reconnectToken: token });
    expect(decision).toMatchObject({ ok: true, upgrade: { credentialDeadline: 1_040_000, identity: { expiresAt: 1_010_000 } } });
  });

  it('a reconnect token alone at the deadline: 401 "token expired", the token used up, the session removed, session.expired once', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const a = setup({ options: { reauthGraceMs: 30_000 } });
    const { token, sessionId } = await awayUntilDeadline(a, 1_010_000);
    vi.setSystemTime(1_040_000);
    expect(refusal(await a.admit({ token: undefined, reconnectToken: token }))).toEqual({ status: 401, code: 'UNAUTHORIZED', message: 'token expired' });
    expect(a.f.eventsNamed(ConnectionManagerEvent.SessionExpired)).toEqual([expect.objectContaining({ sessionId, userId: 'ann', tenantId: 't1' })]);
    expect(a.f.sessionStore.size).toBe(0);
    expect(refusal(await a.admit({ token: undefined, reconnectToken: token }))?.message).toBe('invalid or expired reconnect token');
    expect(a.f.eventsNamed(ConnectionManagerEvent.SessionExpired)).toHaveLength(1);
  });

  it('with a fresh JWT of the same user past the deadline: admitted, and the new JWT gives the deadline', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const a = setup({ options: { reauthGraceMs: 30_000 } });
    const { token } = await awayUntilDeadline(a, 1_010_000);
    vi.setSystemTime(1_100_000);
    const exp = 1_100 + 3600;
    const decision = await a.admit({ token: sign({ exp }), reconnectToken: token });
    expect(decision).toMatchObject({ ok: true, upgrade: { credentialDeadline: exp * 1000 + 30_000, identity: { expiresAt: exp * 1000 } } });
  });
});
