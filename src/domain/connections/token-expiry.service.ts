import { Inject, Injectable } from '@nestjs/common';
import { DomainEventPublisher } from '../../connection-manager/domain-events.publisher.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../connection-manager/connection-manager.constants.js';
import type { ResolvedConnectionManagerOptions } from '../../connection-manager/connection-manager.options.js';
import { AuthExpiredEvent, ConnectionManagerEvent } from '../../connection-manager/connection-manager.events.js';
import { CloseCode, type ReauthRequiredFrame } from '../../protocol/protocol.types.js';
import type { ClientConnection } from './client-connection.js';
import { ConnectionService } from './connection.service.js';

/** setTimeout's longest delay; a later expiry is reached in several hops. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Token expiry during a session. At `exp` + `clockToleranceS` the connection gets
 * `reauth_required` with `graceMs` (`reauthGraceMs`, default 30000) and keeps working; a valid
 * `reauth` moves the expiry, otherwise the grace ends with close 4001 "token expired".
 * One timer per connection (it has one deadline at a time), cleared on close.
 */
@Injectable()
export class TokenExpiryService {
  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    private readonly connections: ConnectionService,
    private readonly events: DomainEventPublisher,
  ) {}

  /** (Re)starts the expiry clock from the connection's current identity. */
  schedule(connection: ClientConnection): void {
    this.clear(connection);
    this.arm(connection);
  }

  clear(connection: ClientConnection): void {
    if (connection.authTimer !== undefined) clearTimeout(connection.authTimer);
    connection.authTimer = undefined;
  }

  private deadline(connection: ClientConnection): number {
    return connection.identity.expiresAt + this.options.jwt.clockToleranceS * 1000;
  }

  private arm(connection: ClientConnection): void {
    const delay = this.deadline(connection) - Date.now();
    if (delay <= 0) {
      this.startGrace(connection);
      return;
    }
    connection.authTimer = setTimeout(() => this.arm(connection), Math.min(delay, MAX_TIMER_MS));
    connection.authTimer.unref();
  }

  private startGrace(connection: ClientConnection): void {
    if (!connection.isOpen) return;
    const frame: ReauthRequiredFrame = { type: 'reauth_required', reason: 'token_expired', graceMs: this.options.reauthGraceMs };
    connection.sendFrame(frame);
    connection.authTimer = setTimeout(() => {
      connection.authTimer = undefined;
      if (!connection.isOpen) return;
      this.events.publish(
        ConnectionManagerEvent.AuthExpired,
        new AuthExpiredEvent(connection.id, connection.sessionId, connection.userId, connection.tenantId),
      );
      this.connections.close(connection, CloseCode.TOKEN_EXPIRED, 'token expired', 'token_expired', false);
    }, this.options.reauthGraceMs);
    connection.authTimer.unref();
  }
}
