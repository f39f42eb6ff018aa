import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import {
  ConnectionManagerEvent,
  type ConnectionClosedEvent,
  type ConnectionEstablishedEvent,
  type ConnectionRefusedEvent,
  type SessionResumedEvent,
} from '../../kernel/connection-manager.events.js';
import { EventSubscriptions } from '../../kernel/event-subscriptions.js';
import { OPS_OPTIONS } from '../ops.constants.js';
import { OPS_LOG_LEVELS, type ResolvedOpsOptions } from '../ops.options.js';

/**
 * One structured line per connection lifecycle step, through the app's Nest logger (pino's
 * JSON when the app uses OpsLogger; Nest's console logger prints the same fields
 * otherwise), context `ConnectionManager`, `event` naming the domain event:
 *
 * - `connection established` (info): connectionId, sessionId, userId, tenantId, ip, resumed
 * - `connection closed` (info): connectionId, sessionId, userId, tenantId, code, cause, resumable
 * - `session resumed` (info): connectionId, sessionId, userId, tenantId, previousConnectionId, missed
 * - `upgrade refused` (info; 429 at debug, since a flood would otherwise flood the logs too):
 *   status, code, ip (and `quota` for QUOTA_EXCEEDED)
 *
 * Never logged: tokens, reconnect tokens, close reasons (client text), message data.
 * Off with `connectionLog: false`.
 */
@Injectable()
export class ConnectionLogListener implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ConnectionManager');
  private readonly subscriptions: EventSubscriptions;

  constructor(
    events: EventEmitter2,
    @Inject(OPS_OPTIONS) private readonly options: ResolvedOpsOptions,
  ) {
    this.subscriptions = new EventSubscriptions(events, this.logger);
  }

  onModuleInit(): void {
    if (!this.options.connectionLog) return;
    // Lines pino would drop anyway (level above info) are not built at all: at warn, a
    // connection costs no log work. With `logging: false` the app's logger decides, so subscribe.
    const logging = this.options.logging;
    if (logging && (logging.level === 'silent' || OPS_LOG_LEVELS.indexOf(logging.level) < OPS_LOG_LEVELS.indexOf('info'))) return;
    const E = ConnectionManagerEvent;
    this.subscriptions
      .on(E.ConnectionEstablished, (e: ConnectionEstablishedEvent) =>
        this.logger.log({
          msg: 'connection established',
          event: E.ConnectionEstablished,
          connectionId: e.connectionId,
          sessionId: e.sessionId,
          userId: e.userId,
          tenantId: e.tenantId,
          ip: e.ip,
          resumed: e.resumed,
        }),
      )
      .on(E.ConnectionClosed, (e: ConnectionClosedEvent) =>
        this.logger.log({
          msg: 'connection closed',
          event: E.ConnectionClosed,
          connectionId: e.connectionId,
          sessionId: e.sessionId,
          userId: e.userId,
          tenantId: e.tenantId,
          code: e.code,
          cause: e.cause,
          resumable: e.resumable,
        }),
      )
      .on(E.SessionResumed, (e: SessionResumedEvent) =>
        this.logger.log({
          msg: 'session resumed',
          event: E.SessionResumed,
          connectionId: e.connectionId,
          sessionId: e.sessionId,
          userId: e.userId,
          tenantId: e.tenantId,
          previousConnectionId: e.previousConnectionId,
          missed: e.missed,
        }),
      )
      .on(E.ConnectionRefused, (e: ConnectionRefusedEvent) => {
        const line = { msg: 'upgrade refused', event: E.ConnectionRefused, status: e.status, code: e.code, ip: e.ip, ...(e.quota ? { quota: e.quota } : {}) };
        if (e.status === 429) this.logger.debug(line);
        else this.logger.log(line);
      });
  }

  onApplicationShutdown(): void {
    this.subscriptions.clear();
  }
}
