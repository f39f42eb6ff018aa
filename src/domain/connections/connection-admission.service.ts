import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { ConnectionManagerEvent, ConnectionRefusedEvent } from '../../kernel/connection-manager.events.js';
import { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';
import type { SessionRecord } from '../ports/session-store.port.js';
import { TokenVerifier } from '../ports/token-verifier.port.js';
import { UpgradeRateLimiter, type RateLimitDecision } from '../ports/upgrade-rate-limiter.port.js';
import { ConnectionQuotaService } from '../quotas/connection-quota.service.js';
import { QuotaExceededError } from '../quotas/quota-exceeded-error.js';
import { SessionService, identityOf } from '../sessions/session.service.js';
import { refuse, type AdmissionDecision, type AdmittedUpgrade, type UpgradeAttempt, type UpgradeRefusal } from './admission.types.js';
import { AuthError } from './auth-error.js';
import { credentialDeadline } from './credential-deadline.js';
import { ConnectionService } from './connection.service.js';
import { sameUser, type Identity } from './identity.js';
import { LifecycleState } from './lifecycle-state.js';

/**
 * Decides whether an upgrade may open a connection, in the protocol's refusal order:
 * draining (503) → IP attempt rate (429) → IP open connections (429, when capped) → Origin
 * (403) → instance capacity (503) → JWT or reconnect token (401; 503 when a shared session store
 * is unreachable) → the user's and the tenant's connection quotas (429 QUOTA_EXCEEDED). An
 * admitted upgrade carries the session's credential deadline: the JWT's, or on a resume with the
 * reconnect token alone the session's own (a resume never extends it). Every attempt that
 * reaches here counts toward the IP rate, refused ones included. An admitted upgrade holds a
 * connection slot, its IP slot and its quota slot until its socket registers or goes away
 * ({@link abandon}); a refused one gives back whatever it took.
 */
@Injectable()
export class ConnectionAdmissionService {
  private readonly allowedOrigins: ReadonlySet<string> | undefined;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Inject(UpgradeRateLimiter) private readonly rateLimiter: UpgradeRateLimiter,
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
    private readonly connections: ConnectionService,
    private readonly lifecycle: LifecycleState,
    private readonly sessions: SessionService,
    private readonly events: DomainEventPublisher,
    private readonly quotas: ConnectionQuotaService,
  ) {
    this.allowedOrigins = options.allowedOrigins.length > 0 ? new Set(options.allowedOrigins) : undefined;
  }

  /**
   * Runs every check; a refusal is also published as `connection.refused`. One async step for
   * the IP's attempt rate (the limiter's port is async) and one for the quota or the session
   * store; every other check is synchronous (each extra async layer was a promise, a resumption
   * and a microtask per connect: part of issue 15's connect profile).
   */
  async admit(attempt: UpgradeAttempt): Promise<AdmissionDecision> {
    const retryAfterS = this.options.retryAfterS;
    if (this.lifecycle.draining) {
      return this.refused(attempt, { status: 503, code: 'DRAINING', message: 'server is restarting, reconnect to another instance', retryAfterS });
    }
    let rate: RateLimitDecision;
    try {
      rate = await this.rateLimiter.consume(attempt.ip);
    } catch {
      // A limiter that cannot count at all must not let floods through: refuse, but briefly.
      return this.refused(attempt, { status: 503, code: 'UNAVAILABLE', message: 'rate limiter unavailable', retryAfterS });
    }
    const early = this.checkRateAndSlots(attempt, rate);
    if (early !== undefined) return this.refused(attempt, early);
    // From here the attempt holds an IP slot and a connection slot: a refusal gives both back.
    let decision: AdmissionDecision | Promise<AdmissionDecision>;
    try {
      decision = this.authenticate(attempt);
      if (decision instanceof Promise) decision = await decision;
    } catch {
      decision = refuse({ status: 401, code: 'UNAUTHORIZED', message: 'invalid credentials' });
    }
    if (!decision.ok) {
      this.connections.releaseReservation();
      this.connections.releaseIp(attempt.ip);
      this.publishRefusal(attempt, decision.refusal);
    }
    return decision;
  }

  /** An admitted upgrade that never became a connection (its socket died first): gives back its slots. */
  abandon(upgrade: AdmittedUpgrade): void {
    this.connections.releaseReservation();
    this.connections.releaseIp(upgrade.ip);
    this.quotas.release({ tenantId: upgrade.identity.tenantId, userId: upgrade.identity.userId, connectionId: upgrade.connectionId });
  }

  /**
   * The IP's attempt rate, then its open-connection slot, the Origin and a slot of the
   * instance's connection budget. Returns the refusal, having given back what it took; or
   * undefined with the IP slot and the connection slot taken.
   */
  private checkRateAndSlots(attempt: UpgradeAttempt, rate: RateLimitDecision): UpgradeRefusal | undefined {
    const retryAfterS = this.options.retryAfterS;
    if (!rate.allowed) {
      return { status: 429, code: 'RATE_LIMITED', message: 'too many connection attempts', retryAfterS: Math.max(1, Math.ceil(rate.retryAfterMs / 1000)) };
    }
    if (!this.connections.tryReserveIp(attempt.ip)) {
      return { status: 429, code: 'RATE_LIMITED', message: 'too many open connections from this address', retryAfterS };
    }
    let refusal: UpgradeRefusal | undefined;
    if (this.allowedOrigins && attempt.origin !== undefined && !this.allowedOrigins.has(attempt.origin)) {
      refusal = { status: 403, code: 'ORIGIN_NOT_ALLOWED', message: 'origin not allowed' };
    } else if (!this.connections.tryReserve()) {
      refusal = { status: 503, code: 'SERVER_FULL', message: 'server is at its connection limit', retryAfterS };
    }
    if (refusal !== undefined) this.connections.releaseIp(attempt.ip);
    return refusal;
  }

  /** A refusal before any slot was held: published, and returned as the decision. */
  private refused(attempt: UpgradeAttempt, refusal: UpgradeRefusal): AdmissionDecision {
    this.publishRefusal(attempt, refusal);
    return { ok: false, refusal };
  }

  private publishRefusal(attempt: UpgradeAttempt, refusal: UpgradeRefusal): void {
    const { status, code, quota } = refusal;
    this.events.publish(ConnectionManagerEvent.ConnectionRefused, new ConnectionRefusedEvent({ status, code, ip: attempt.ip, quota }));
  }

  /**
   * JWT, reconnect token, or both (then the JWT must name the session's user and governs
   * expiry); then the connection quotas, for fresh connections and resumes alike. Synchronous
   * refusals are returned as they are; the quota and the session store answer through a promise.
   */
  private authenticate(attempt: UpgradeAttempt): AdmissionDecision | Promise<AdmissionDecision> {
    const { token, reconnectToken, ip } = attempt;
    if (attempt.refusedCredentials !== undefined) return refuse({ status: 401, code: 'UNAUTHORIZED', message: attempt.refusedCredentials });
    if (attempt.refusedPositions !== undefined) return refuse({ status: 400, code: 'BAD_REQUEST', message: attempt.refusedPositions });
    const connectionId = randomUUID();
    let identity: Identity | undefined;
    if (token !== undefined || reconnectToken === undefined) {
      try {
        identity = this.verifier.verify(token);
      } catch (err) {
        return refuse({ status: 401, code: 'UNAUTHORIZED', message: err instanceof AuthError ? err.message : 'invalid token' });
      }
    }
    if (reconnectToken === undefined) {
      return this.withinQuota({ connectionId, identity: identity!, credentialDeadline: credentialDeadline(identity!.expiresAt, this.options), ip });
    }
    return this.resumeAttempt(attempt, reconnectToken, identity, connectionId);
  }

  /** A fresh connection takes its quota slot (last check: the identity is proven). */
  private withinQuota(upgrade: AdmittedUpgrade): Promise<AdmissionDecision> {
    const { identity, connectionId } = upgrade;
    return this.quotas
      .acquire({ tenantId: identity.tenantId, userId: identity.userId, connectionId })
      .then((quota): AdmissionDecision => (quota.ok ? { ok: true, upgrade } : this.quotaExceeded(new QuotaExceededError(quota.exceeded))));
  }

  /** A resume: the session of the reconnect token, claimed once every check passed. */
  private async resumeAttempt(
    attempt: UpgradeAttempt,
    reconnectToken: string,
    identity: Identity | undefined,
    connectionId: string,
  ): Promise<AdmissionDecision> {
    let record: SessionRecord | undefined;
    try {
      record = await this.claimSession(reconnectToken, identity, connectionId);
    } catch (err) {
      if (err instanceof QuotaExceededError) return this.quotaExceeded(err);
      if (err instanceof AuthError) return refuse({ status: 401, code: 'UNAUTHORIZED', message: err.message });
      return refuse({ status: 503, code: 'UNAVAILABLE', message: 'sessions are temporarily unavailable, retry later', retryAfterS: this.options.retryAfterS });
    }
    if (!record) return refuse({ status: 401, code: 'UNAUTHORIZED', message: 'invalid or expired reconnect token' });
    // A fresh JWT governs from now on; the reconnect token alone keeps the session's deadline.
    const { ip, positions } = attempt;
    const upgrade: AdmittedUpgrade = identity
      ? { connectionId, identity, credentialDeadline: credentialDeadline(identity.expiresAt, this.options), ip, resume: record, positions }
      : { connectionId, identity: identityOf(record), credentialDeadline: this.storedDeadline(record), ip, resume: record, positions };
    return { ok: true, upgrade };
  }

  private quotaExceeded(err: QuotaExceededError): AdmissionDecision {
    return refuse({ status: 429, code: 'QUOTA_EXCEEDED', message: err.message, retryAfterS: this.options.retryAfterS, quota: err.quota });
  }

  /**
   * The session a reconnect token resumes, used up only once every check passed (a refused
   * attempt keeps the token valid). Throws AuthError when a JWT came along that names another
   * user, and when the token comes alone after the session's credential deadline: that session
   * is over (its token used up, the session removed, `session.expired` published by the one
   * attempt that claimed it). Throws QuotaExceededError when the new connection is over a quota
   * (checked before the token is used up, so a resume refused for quota can retry with it).
   * Rejects when the session store is unreachable.
   */
  private async claimSession(reconnectToken: string, identity: Identity | undefined, connectionId: string): Promise<SessionRecord | undefined> {
    const record = await this.sessions.find(reconnectToken);
    if (!record) return undefined;
    if (identity && !sameUser(identity, record)) throw new AuthError('token does not match the session');
    const now = Date.now();
    if (record.awayUntil !== 0 && record.awayUntil <= now) return undefined;
    if (!identity && this.storedDeadline(record) <= now) {
      const claimed = await this.sessions.claim(reconnectToken);
      if (claimed) await this.sessions.expire(claimed);
      throw new AuthError('token expired');
    }
    // The session's previous connection is not counted: a user at the cap can resume.
    const slot = { tenantId: record.tenantId, userId: record.userId, connectionId };
    const quota = await this.quotas.acquire({ ...slot, replaces: record.connectionId });
    if (!quota.ok) throw new QuotaExceededError(quota.exceeded);
    let claimed: SessionRecord | undefined;
    try {
      claimed = await this.sessions.claim(reconnectToken);
    } finally {
      if (!claimed) this.quotas.release(slot);
    }
    return claimed;
  }

  /**
   * The credential deadline stored with a session. A record written before the deadline was
   * stored (a rolling upgrade over a shared Redis) has none: it is derived from the record's
   * JWT expiry, which a resume alone never moved either.
   */
  private storedDeadline(record: SessionRecord): number {
    const stored: unknown = record.credentialDeadline;
    return typeof stored === 'number' && Number.isFinite(stored) ? stored : credentialDeadline(record.expiresAt, this.options);
  }
}
