import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ConnectionClosedEvent, ConnectionEstablishedEvent, ConnectionManagerEvent, type CloseCause } from '../../kernel/connection-manager.events.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';
import { ConnectionQuotaService } from '../quotas/connection-quota.service.js';
import type { LocalRoom } from '../rooms/local-room.js';
import { RoomService } from '../rooms/room.service.js';
import { SessionService } from '../sessions/session.service.js';
import type { ClientConnection } from './client-connection.js';
import { connectionAck } from './connection-ack.js';
import { ConnectionService } from './connection.service.js';
import { TokenExpiryService } from './token-expiry.service.js';
import { errorMessage } from '../../kernel/error-message.js';

/** A closed connection whose presence is kept for `presenceLingerMs` in case it resumes. */
export interface LingeringConnection {
  connection: ClientConnection;
  rooms: LocalRoom[];
  timer: NodeJS.Timeout;
}

/** How a connection ended, as `connection.closed` reports it. */
export interface ClosedConnection {
  code: number;
  reason: string;
  cause: CloseCause;
  resumable: boolean;
}

/**
 * A connection's life from ack to cleanup: the fresh start, and the close that either
 * suspends the session (resumable closes) or ends it. Resuming a session is
 * {@link SessionResumeService}'s, which uses the steps exposed here.
 */
@Injectable()
export class ConnectionLifecycleService implements OnModuleDestroy {
  private readonly logger = new Logger(ConnectionLifecycleService.name);
  private readonly lingering = new Map<string, LingeringConnection>();
  /** Cleanups under way (their store writes); a drain and the back-end shutdown wait for them. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    private readonly connections: ConnectionService,
    private readonly rooms: RoomService,
    private readonly sessions: SessionService,
    private readonly expiry: TokenExpiryService,
    private readonly events: DomainEventPublisher,
    private readonly quotas: ConnectionQuotaService,
  ) {}

  onModuleDestroy(): void {
    for (const l of this.lingering.values()) clearTimeout(l.timer);
    this.lingering.clear();
  }

  /** Fresh connection: token, ack, `connection.established`, expiry clock. */
  async start(connection: ClientConnection): Promise<void> {
    const reconnectToken = await this.sessions.activate(connection);
    if (connection.closed) return;
    connection.sendFrame(connectionAck(connection, { reconnectToken, heartbeatIntervalMs: this.options.heartbeatIntervalMs, resumed: false, rooms: [] }));
    this.established(connection, false);
    this.expiry.schedule(connection);
  }

  /**
   * Cleanup after a socket closed (idempotent). Resumable closes suspend the session: its rooms'
   * messages are buffered and presence either leaves at once or lingers `presenceLingerMs`.
   * Never rejects: a failure is logged (the stores already log and swallow their own outages).
   */
  finalize(connection: ClientConnection, code: number, reason: string): Promise<void> {
    if (connection.closed) return Promise.resolve();
    // One chain that never rejects (no floating promise: a rejection here would end the process).
    const work: Promise<void> = this.cleanUp(connection, code, reason)
      .catch((err: unknown) => {
        this.logger.error(`cleanup of ${connection.id} failed: ${errorMessage(err)}`);
      })
      .then(() => {
        this.inFlight.delete(work);
      });
    this.inFlight.add(work);
    return work;
  }

  /** Resolves when every cleanup started so far has finished (or after `timeoutMs`). */
  async idle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
    }
  }

  /** Takes a closed connection of the session whose presence still lingers (its timer stopped). */
  takeLingering(sessionId: string): LingeringConnection | undefined {
    const lingering = this.lingering.get(sessionId);
    if (!lingering) return undefined;
    clearTimeout(lingering.timer);
    this.lingering.delete(sessionId);
    return lingering;
  }

  /**
   * Marks the connection closed and takes it out of the registry, the expiry clock and its
   * rooms' fan-out; its connection quota slot is given back (a resumable close too: the quota
   * counts open connections, not sessions).
   */
  detach(connection: ClientConnection): LocalRoom[] {
    connection.closed = true;
    this.connections.unregister(connection);
    this.quotas.release({ tenantId: connection.tenantId, userId: connection.userId, connectionId: connection.id });
    this.expiry.clear(connection);
    return this.rooms.detachAll(connection);
  }

  /** Gives the connection's seats in `rooms` back (each publishes `room.left`). */
  async releaseSeats(connection: ClientConnection, rooms: LocalRoom[]): Promise<void> {
    await Promise.all(rooms.map((room) => this.rooms.releaseSeat(connection, room, 'disconnect')));
  }

  /** Publishes `connection.closed`. */
  closed(connection: ClientConnection, close: ClosedConnection): void {
    // Fields written out, no spreads (see RoomService.attach).
    this.events.publish(
      ConnectionManagerEvent.ConnectionClosed,
      new ConnectionClosedEvent({
        connectionId: connection.id,
        sessionId: connection.sessionId,
        userId: connection.userId,
        tenantId: connection.tenantId,
        code: close.code,
        reason: close.reason,
        cause: close.cause,
        resumable: close.resumable,
      }),
    );
  }

  /** Publishes `connection.established`. */
  established(connection: ClientConnection, resumed: boolean): void {
    this.events.publish(
      ConnectionManagerEvent.ConnectionEstablished,
      new ConnectionEstablishedEvent({
        connectionId: connection.id,
        sessionId: connection.sessionId,
        userId: connection.userId,
        tenantId: connection.tenantId,
        name: connection.identity.name,
        ip: connection.ip,
        resumed,
      }),
    );
  }

  private async cleanUp(connection: ClientConnection, code: number, reason: string): Promise<void> {
    const cause: CloseCause = connection.closeCause ?? 'client';
    // The code the server sent wins over ws's 1006 when the peer never answered the close.
    if (connection.closeCode !== undefined) code = connection.closeCode;
    const resumable = connection.resumable;
    const rooms = this.detach(connection);
    if (resumable) {
      await this.sessions.suspend(
        connection,
        rooms.map((r) => r.key),
        rooms.map((r) => r.canvasId),
      );
      if (this.options.presenceLingerMs > 0 && rooms.length > 0) this.linger(connection, rooms);
      else await this.releaseSeats(connection, rooms);
    } else {
      await this.sessions.end(connection.sessionId);
      await this.releaseSeats(connection, rooms);
    }
    this.closed(connection, { code, reason, cause, resumable });
  }

  /** Keeps the closed connection in presence for `presenceLingerMs`, then gives its seats back. */
  private linger(connection: ClientConnection, rooms: LocalRoom[]): void {
    const timer = setTimeout(() => {
      this.lingering.delete(connection.sessionId);
      this.releaseSeats(connection, rooms).catch((err: unknown) => this.logger.error(`releasing lingering seats failed: ${errorMessage(err)}`));
    }, this.options.presenceLingerMs);
    timer.unref();
    this.lingering.set(connection.sessionId, { connection, rooms, timer });
  }
}
