import { Inject, Injectable } from '@nestjs/common';
import { DomainEventPublisher } from '../connection-manager/domain-events.publisher.js';
import type { IncomingMessage } from 'node:http';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { CONNECTION_MANAGER_OPTIONS } from '../connection-manager/connection-manager.constants.js';
import type { ResolvedConnectionManagerOptions } from '../connection-manager/connection-manager.options.js';
import { ConnectionManagerEvent, ConnectionRefusedEvent } from '../connection-manager/connection-manager.events.js';
import { UpgradeRateLimiter } from '../backends/rate-limit/upgrade-rate-limiter.js';
import { ConnectionService } from '../domain/connections/connection.service.js';
import { sameUser, type Identity } from '../domain/connections/identity.js';
import { SessionService, identityOf } from '../domain/sessions/session.service.js';
import type { SessionRecord } from '../backends/session/session-store.interface.js';
import { LifecycleState } from '../domain/connections/lifecycle-state.js';
import { AuthError, JwtAuthenticator, extractToken } from './auth.js';
import { clientIp } from './client-ip.js';
import type { UpgradeRefusal } from './upgrade-refusal.js';

/** What an accepted upgrade carries from the check to the connection handler. */
export interface AcceptedUpgrade {
  identity: Identity;
  ip: string;
  /** Set for `?reconnectToken=`: the session to resume (its token is already used up). */
  resume?: SessionRecord;
}

export type UpgradeDecision = { ok: true; upgrade: AcceptedUpgrade } | { ok: false; refusal: UpgradeRefusal };

/**
 * The checks of an upgrade on the module's path, in the protocol's order:
 * draining (503) → IP attempt rate (429) → IP open connections (429, when capped) → Origin (403) → instance capacity (503) → JWT or
 * reconnect token (401; 503 when a shared session store is unreachable).
 * Every attempt that reaches here counts toward the IP limit, refused ones included.
 * An accepted upgrade holds a connection slot until its socket registers or goes away.
 */
@Injectable()
export class UpgradeGuard {
  private readonly allowedOrigins: ReadonlySet<string> | undefined;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Inject(UpgradeRateLimiter) private readonly rateLimiter: UpgradeRateLimiter,
    private readonly connections: ConnectionService,
    private readonly authenticator: JwtAuthenticator,
    private readonly lifecycle: LifecycleState,
    private readonly sessions: SessionService,
    private readonly events: DomainEventPublisher,
  ) {
    this.allowedOrigins = options.allowedOrigins.length > 0 ? new Set(options.allowedOrigins) : undefined;
  }

  async check(req: IncomingMessage): Promise<UpgradeDecision> {
    const ip = clientIp(req, this.options.trustProxyHops);
    const refusal = await this.refusalFor(req, ip);
    if (refusal.ok) return refusal;
    this.events.publish(ConnectionManagerEvent.ConnectionRefused, new ConnectionRefusedEvent(refusal.refusal.status, refusal.refusal.code, ip));
    return refusal;
  }

  private async refusalFor(req: IncomingMessage, ip: string): Promise<UpgradeDecision> {
    const retryAfterS = this.options.retryAfterS;
    if (this.lifecycle.draining) {
      return refuse(503, 'DRAINING', 'server is restarting, reconnect to another instance', retryAfterS);
    }
    try {
      await this.rateLimiter.consume(ip);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        return refuse(429, 'RATE_LIMITED', 'too many connection attempts', Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      }
      // A limiter backend failure must not let floods through: refuse, but briefly.
      return refuse(503, 'UNAVAILABLE', 'rate limiter unavailable', retryAfterS);
    }
    if (!this.connections.tryReserveIp(ip)) {
      return refuse(429, 'RATE_LIMITED', 'too many open connections from this address', retryAfterS);
    }
    const decision = await this.afterIpSlot(req, ip);
    if (!decision.ok) this.connections.releaseIp(ip);
    return decision;
  }

  private async afterIpSlot(req: IncomingMessage, ip: string): Promise<UpgradeDecision> {
    const retryAfterS = this.options.retryAfterS;
    const origin = req.headers.origin;
    if (this.allowedOrigins && origin !== undefined && !this.allowedOrigins.has(origin)) {
      return refuse(403, 'ORIGIN_NOT_ALLOWED', 'origin not allowed');
    }
    if (!this.connections.tryReserve()) {
      return refuse(503, 'SERVER_FULL', 'server is at its connection limit', retryAfterS);
    }
    let decision: UpgradeDecision;
    try {
      decision = await this.authenticate(req, ip);
    } catch {
      decision = refuse(401, 'UNAUTHORIZED', 'invalid credentials');
    }
    if (!decision.ok) this.connections.releaseReservation();
    return decision;
  }

  /** JWT, reconnect token, or both (then the JWT must name the session's user and governs expiry). */
  private async authenticate(req: IncomingMessage, ip: string): Promise<UpgradeDecision> {
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const token = extractToken(req, query);
    const reconnectToken = query.get('reconnectToken');
    let identity: Identity | undefined;
    if (token !== undefined || reconnectToken === null) {
      try {
        identity = this.authenticator.verify(token);
      } catch (err) {
        return refuse(401, 'UNAUTHORIZED', err instanceof AuthError ? err.message : 'invalid token');
      }
    }
    if (reconnectToken === null) return { ok: true, upgrade: { identity: identity!, ip } };
    let record: SessionRecord | undefined;
    try {
      record = await this.sessions.find(reconnectToken);
      if (record && (record.awayUntil === 0 || record.awayUntil > Date.now()) && (!identity || sameUser(identity, record))) {
        // Used up only now that every check passed: a refused attempt keeps the token valid.
        record = await this.sessions.claim(reconnectToken);
      } else if (record && identity && !sameUser(identity, record)) {
        return refuse(401, 'UNAUTHORIZED', 'token does not match the session');
      } else {
        record = undefined;
      }
    } catch {
      return refuse(503, 'UNAVAILABLE', 'sessions are temporarily unavailable, retry later', this.options.retryAfterS);
    }
    if (!record) return refuse(401, 'UNAUTHORIZED', 'invalid or expired reconnect token');
    return { ok: true, upgrade: { identity: identity ?? identityOf(record), ip, resume: record } };
  }
}

function refuse(status: number, code: UpgradeRefusal['code'], message: string, retryAfterS?: number): UpgradeDecision {
  return { ok: false, refusal: retryAfterS === undefined ? { status, code, message } : { status, code, message, retryAfterS } };
}
