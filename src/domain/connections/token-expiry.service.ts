import { Inject, Injectable } from '@nestjs/common';
import { DomainEventPublisher } from '../../connection-manager/domain-events.publisher.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../connection-manager/connection-manager.constants.js';
import type { ResolvedConnectionManagerOptions } from '../../connection-manager/connection-manager.options.js';
import { AuthExpiredEvent, ConnectionManagerEvent } from '../../connection-manager/connection-manager.events.js';
import { CloseCode, type ReauthRequiredFrame } from '../../protocol/protocol.types.js';
import type { ClientConnection } from './client-connection.js';
import { ConnectionService } from './connection.service.js';

/**
 * Delays are rounded up to 100 ms and capped at 60 s (a later expiry is reached in hops).
 * Why: Node keeps one timer list per distinct delay, and for unref'd timers it frees a list only
 * when it comes due, even after clearTimeout. Exact "ms until exp" delays made a list per
 * connection that outlived it by the token's lifetime (~150 B each, found by the churn soak);
 * quantized delays share at most 600 lists, each gone within 60 s.
 */
const QUANTUM_MS = 100;
const MAX_HOP_MS = 60_000;

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
    const hop = Math.min(Math.ceil(delay / QUANTUM_MS) * QUANTUM_MS, MAX_HOP_MS);
    connection.authTimer = setTimeout(() => this.arm(connection), hop);
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
