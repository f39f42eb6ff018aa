import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { AuthExpiredEvent, ConnectionManagerEvent } from '../../kernel/connection-manager.events.js';
import { CloseCode, type ReauthRequiredFrame } from '../../protocol/protocol.types.js';
import type { ClientConnection } from './client-connection.js';
import { ConnectionService } from './connection.service.js';
import { DeadlineWheel } from './deadline-wheel.js';
import { errorMessage } from '../../kernel/error-message.js';

/**
 * Token expiry during a session. At `exp` + `clockToleranceS` the connection gets
 * `reauth_required` with `graceMs` (`reauthGraceMs`, default 30000) and keeps working; a valid
 * `reauth` moves the expiry, otherwise the grace ends with close 4001 "token expired".
 *
 * All deadlines of the instance share one timer (a {@link DeadlineWheel} of 100 ms buckets):
 * an expiry or grace end fires at most 100 ms late, and a connection costs one Set entry
 * instead of a `Timeout` for its whole life.
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

  /** (Re)starts the expiry clock from the connection's current identity. */
  schedule(connection: ClientConnection): void {
    this.clear(connection);
    const deadline = connection.identity.expiresAt + this.options.jwt.clockToleranceS * 1000;
    if (deadline <= Date.now()) {
      this.startGrace(connection);
      return;
    }
    connection.expirySlot = this.wheel.add(connection, deadline);
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
    if (!connection.inReauthGrace) {
      this.startGrace(connection);
      return;
    }
    connection.inReauthGrace = false;
    this.events.publish(ConnectionManagerEvent.AuthExpired, new AuthExpiredEvent(connection.ref()));
    this.connections.close(connection, { code: CloseCode.TOKEN_EXPIRED, reason: 'token expired', cause: 'token_expired', resumable: false });
  }

  private startGrace(connection: ClientConnection): void {
    if (!connection.isOpen) return;
    const frame: ReauthRequiredFrame = { type: 'reauth_required', reason: 'token_expired', graceMs: this.options.reauthGraceMs };
    connection.sendFrame(frame);
    connection.inReauthGrace = true;
    connection.expirySlot = this.wheel.add(connection, Date.now() + this.options.reauthGraceMs);
  }
}
