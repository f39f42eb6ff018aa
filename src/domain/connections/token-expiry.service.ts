import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { AuthExpiredEvent, ConnectionManagerEvent } from '../../kernel/connection-manager.events.js';
import { CloseCode, type ReauthRequiredFrame } from '../../protocol/protocol.types.js';
import type { ClientConnection } from './client-connection.js';
import { ConnectionService } from './connection.service.js';
import { tokenExpiry } from './credential-deadline.js';
import { DeadlineWheel } from './deadline-wheel.js';
import { errorMessage } from '../../kernel/error-message.js';

/**
 * Token expiry during a session. At `exp` + `clockToleranceS` the connection gets
 * `reauth_required` and keeps working; a valid `reauth` moves the expiry, otherwise it is closed
 * with 4001 "token expired" at the session's credential deadline (`connection.credentialDeadline`:
 * `exp` + tolerance + `reauthGraceMs` of the last JWT the session proved; see
 * credential-deadline.ts). The grace belongs to the session, not to the connection: a connection
 * that resumes the session after `exp` with the reconnect token alone gets `reauth_required` with
 * what is left of the grace (`graceMs` = deadline − now), never a fresh one, and one that comes
 * at or after the deadline is closed at once.
 *
 * All deadlines of the instance share one timer (a {@link DeadlineWheel} of 100 ms buckets):
 * an expiry or grace end fires at most 100 ms late, never early (exactly on time with whole-second
 * `exp` and a grace that is a multiple of 100 ms, as the defaults are), and a connection costs
 * one Set entry instead of a `Timeout` for its whole life.
 */
@Injectable()
export class TokenExpiryService implements OnModuleDestroy {
  private readonly logger = new Logger(TokenExpiryService.name);
  private readonly wheel = new DeadlineWheel<ClientConnection>(
    (connection) => this.onDue(connection),
    (err) => this.logger.error(`token expiry handling failed: ${errorMessage(err)}`),
  );

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    private readonly connections: ConnectionService,
    private readonly events: DomainEventPublisher,
  ) {}

  /** (Re)starts the expiry clock from the connection's current identity and credential deadline. */
  schedule(connection: ClientConnection): void {
    this.clear(connection);
    const now = Date.now();
    if (connection.credentialDeadline <= now) {
      this.expire(connection);
      return;
    }
    const expiry = tokenExpiry(connection.identity.expiresAt, this.options);
    if (expiry <= now) {
      // Resumed (or reauthed with a token that expires at once) after exp: what is left, from now.
      this.startGrace(connection, now);
      return;
    }
    connection.expirySlot = this.wheel.add(connection, expiry);
  }

  /** Forgets the connection's deadline (close, or before a reschedule). */
  clear(connection: ClientConnection): void {
    if (connection.expirySlot !== 0) this.wheel.remove(connection, connection.expirySlot);
    connection.expirySlot = 0;
    connection.inReauthGrace = false;
  }

  /** Deadlines waiting (tests). */
  get pending(): number {
    return this.wheel.size;
  }

  onModuleDestroy(): void {
    this.wheel.stop();
  }

  private onDue(connection: ClientConnection): void {
    connection.expirySlot = 0;
    if (!connection.isOpen) return;
    if (connection.inReauthGrace) {
      this.expire(connection);
      return;
    }
    // The expiry came due: the grace is counted from it (the wheel may deliver it a little late).
    this.startGrace(connection, tokenExpiry(connection.identity.expiresAt, this.options));
  }

  /** `reauth_required` with the grace left from `from` to the credential deadline, then the 4001 at the deadline. */
  private startGrace(connection: ClientConnection, from: number): void {
    if (!connection.isOpen) return;
    const deadline = connection.credentialDeadline;
    if (deadline <= Date.now()) {
      this.expire(connection);
      return;
    }
    const frame: ReauthRequiredFrame = { type: 'reauth_required', reason: 'token_expired', graceMs: Math.max(0, deadline - from) };
    connection.sendFrame(frame);
    connection.inReauthGrace = true;
    connection.expirySlot = this.wheel.add(connection, deadline);
  }

  /** The credential deadline passed without a valid reauth: `auth.expired`, close 4001 (not resumable). */
  private expire(connection: ClientConnection): void {
    if (!connection.isOpen) return;
    connection.inReauthGrace = false;
    this.events.publish(ConnectionManagerEvent.AuthExpired, new AuthExpiredEvent(connection.ref()));
    this.connections.close(connection, { code: CloseCode.TOKEN_EXPIRED, reason: 'token expired', cause: 'token_expired', resumable: false });
  }
}
