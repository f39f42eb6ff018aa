import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { DomainEventPublisher } from '../../connection-manager/domain-events.publisher.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../connection-manager/connection-manager.constants.js';
import type { ResolvedConnectionManagerOptions } from '../../connection-manager/connection-manager.options.js';
import {
  ConnectionClosedEvent,
  ConnectionEstablishedEvent,
  ConnectionManagerEvent,
  SessionResumedEvent,
  type CloseCause,
} from '../../connection-manager/connection-manager.events.js';
import type { MissedMessages, SessionRecord } from '../../backends/session/session-store.interface.js';
import { roomKey } from '../rooms/room-key.js';
import { CloseCode, type ConnectionAckFrame, type ErrorFrame } from '../../protocol/protocol.types.js';
import type { LocalRoom } from '../rooms/local-room.js';
import { RoomService, type JoinFailure, type JoinOutcome, type SeatReservation } from '../rooms/room.service.js';
import { SessionService } from '../sessions/session.service.js';
import type { ClientConnection } from './client-connection.js';
import { ConnectionService } from './connection.service.js';
import { TokenExpiryService } from './token-expiry.service.js';

/** A closed connection whose presence is kept for `presenceLingerMs` in case it resumes. */
interface Lingering {
  connection: ClientConnection;
  rooms: LocalRoom[];
  timer: NodeJS.Timeout;
}

/**
 * A connection's life from ack to cleanup: fresh start, resume (with takeover of a half-open
 * predecessor), and the close that either suspends the session (resumable closes) or ends it.
 */
@Injectable()
export class ConnectionLifecycleService implements OnModuleDestroy {
  private readonly logger = new Logger('ConnectionManager');
  private readonly lingering = new Map<string, Lingering>();
  /** Cleanups under way (their store writes); a drain and the Redis shutdown wait for them. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    private readonly connections: ConnectionService,
    private readonly rooms: RoomService,
    private readonly sessions: SessionService,
    private readonly expiry: TokenExpiryService,
    private readonly events: DomainEventPublisher,
  ) {}

  onModuleDestroy(): void {
    for (const l of this.lingering.values()) clearTimeout(l.timer);
    this.lingering.clear();
  }

  /** Fresh connection: token, ack, `connection.established`, expiry clock. */
  async start(connection: ClientConnection): Promise<void> {
    const reconnectToken = await this.sessions.activate(connection);
    if (connection.closed) return;
    connection.sendFrame(this.ack(connection, reconnectToken, false, []));
    this.established(connection, false);
    this.expiry.schedule(connection);
  }

  /**
   * Resumed connection. Order on the wire: ack (resumed, rooms, missed) → reauth_required if
   * the session's token already expired → an error per room that could not be restored →
   * presence_state per restored room → the missed messages in their original order → live
   * frames that arrived while the resume was being set up (held, minus those replayed).
   */
  async resume(connection: ClientConnection, record: SessionRecord): Promise<void> {
    let canvasIds = record.rooms;
    let previous: { connection: ClientConnection; rooms: LocalRoom[]; takenOver: boolean } | undefined;
    const holder = this.connections.get(record.connectionId);
    if (holder && !holder.closed) {
      // Takeover: the previous connection still looks open (half-open TCP). Detach it now and
      // buffer its rooms' messages until the new connection is attached.
      canvasIds = [...holder.rooms.keys()];
      holder.closeCause = 'session_taken_over';
      holder.resumable = false;
      const rooms = this.detach(holder);
      await this.sessions.suspend(holder, rooms.map((r) => r.key), canvasIds);
      this.connections.close(holder, CloseCode.SESSION_TAKEN_OVER, 'session resumed elsewhere', 'session_taken_over', false);
      previous = { connection: holder, rooms, takenOver: true };
    } else {
      const lingering = this.lingering.get(record.sessionId);
      if (lingering) {
        clearTimeout(lingering.timer);
        this.lingering.delete(record.sessionId);
        previous = { connection: lingering.connection, rooms: lingering.rooms, takenOver: false };
      }
    }

    const seats: SeatReservation[] = [];
    const failures: Array<JoinFailure & { canvasId: string }> = [];
    for (const canvasId of canvasIds) {
      const seat = await this.rooms.reserve(connection, canvasId);
      if (seat.ok) seats.push(seat);
      else failures.push({ ...seat, canvasId });
    }
    // The previous connection's seats go before the presence snapshot is taken: a user who
    // resumes is one connection in presence, not two.
    if (previous) {
      await this.releaseSeats(previous.connection, previous.rooms);
      for (const seat of seats) {
        const members = await this.rooms.members(connection.tenantId, seat.canvasId).catch(() => undefined);
        const member = members?.find((m) => m.userId === connection.userId);
        if (members && member) seat.result = { ...seat.result, members, member };
      }
    }
    const reconnectToken = await this.sessions.activate(connection);
    if (connection.closed) {
      this.closedPrevious(previous);
      return;
    }

    // Attach first and hold the live frames, then take the buffer: every message is either in
    // the buffer or held (or both, and then sent once, by id). Nothing is lost in between.
    connection.held = [];
    const restored: Array<Extract<JoinOutcome, { ok: true }>> = [];
    for (const seat of seats) {
      const attached = this.rooms.attach(connection, seat, true);
      if (attached.ok) restored.push(attached);
    }
    // Only the restored rooms are replayed; what was kept for the others is dropped.
    const restoredKeys = restored.map((r) => r.room.key);
    const droppedKeys = [...new Set([...(previous?.rooms ?? []).map((r) => r.key), ...failures.map((f) => roomKey(connection.tenantId, f.canvasId))])].filter(
      (k) => !restoredKeys.includes(k),
    );
    let missed: MissedMessages;
    try {
      missed = await this.sessions.takeMissed(connection.sessionId, restoredKeys);
      if (droppedKeys.length > 0) void this.sessions.takeMissed(connection.sessionId, droppedKeys).catch(() => undefined);
    } catch (err) {
      this.logger.warn(`replay buffer unavailable: ${(err as Error).message}`);
      missed = { messages: [], truncated: true };
    }
    // A session whose holder vanished without a close (crashed instance) has no buffer.
    if ((record.awayUntil === 0 || record.lostBuffer) && !previous) missed.truncated = true;
    const held = connection.held;
    connection.held = null;
    if (connection.closed) {
      this.closedPrevious(previous);
      return;
    }

    // --- synchronous from here to the end of the replay ---
    const missedState = missed.truncated ? 'truncated' : missed.messages.length > 0 ? 'replayed' : 'none';
    connection.sendFrame(this.ack(connection, reconnectToken, true, restored.map((r) => r.room.canvasId), missedState));
    this.expiry.schedule(connection);
    for (const failure of failures) {
      const frame: ErrorFrame = { type: 'error', code: failure.code, message: failure.message, canvasId: failure.canvasId };
      connection.sendFrame(frame);
    }
    for (const r of restored) this.rooms.announce(r.event);
    const replayed = new Set<string>();
    for (const m of missed.messages) {
      replayed.add(m.id);
      connection.send(m.frame);
    }
    for (const h of held) {
      if (h.id === undefined || !replayed.has(h.id)) connection.send(h.bytes);
    }
    // --- end of the synchronous part ---

    this.established(connection, true);
    this.events.publish(
      ConnectionManagerEvent.SessionResumed,
      new SessionResumedEvent(connection.id, connection.sessionId, connection.userId, connection.tenantId, record.connectionId, restored.map((r) => r.room.canvasId), missedState),
    );
    this.closedPrevious(previous);
  }

  /**
   * Cleanup after a socket closed (idempotent). Resumable closes suspend the session: its rooms'
   * messages are buffered and presence either leaves at once or lingers `presenceLingerMs`.
   */
  finalize(connection: ClientConnection, code: number, reason: string): Promise<void> {
    if (connection.closed) return Promise.resolve();
    const work = this.doFinalize(connection, code, reason);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  /** Resolves when every cleanup started so far has finished (or after `timeoutMs`). */
  async idle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
    }
  }

  private async doFinalize(connection: ClientConnection, code: number, reason: string): Promise<void> {
    const cause: CloseCause = connection.closeCause ?? 'client';
    // The code the server sent wins over ws's 1006 when the peer never answered the close.
    if (connection.closeCode !== undefined) code = connection.closeCode;
    const resumable = connection.resumable;
    const rooms = this.detach(connection);
    if (resumable) {
      await this.sessions.suspend(connection, rooms.map((r) => r.key), rooms.map((r) => r.canvasId));
      if (this.options.presenceLingerMs > 0 && rooms.length > 0) {
        const timer = setTimeout(() => {
          this.lingering.delete(connection.sessionId);
          void this.releaseSeats(connection, rooms);
        }, this.options.presenceLingerMs);
        timer.unref();
        this.lingering.set(connection.sessionId, { connection, rooms, timer });
      } else {
        await this.releaseSeats(connection, rooms);
      }
    } else {
      await this.sessions.end(connection.sessionId);
      await this.releaseSeats(connection, rooms);
    }
    this.closed(connection, code, reason, cause, resumable);
  }

  private detach(connection: ClientConnection): LocalRoom[] {
    connection.closed = true;
    this.connections.unregister(connection);
    this.expiry.clear(connection);
    return this.rooms.detachAll(connection);
  }

  private async releaseSeats(connection: ClientConnection, rooms: LocalRoom[]): Promise<void> {
    await Promise.all(rooms.map((room) => this.rooms.releaseSeat(connection, room, 'disconnect')));
  }

  /** The disconnect notification of a connection that was taken over (its seats are already released). */
  private closedPrevious(previous: { connection: ClientConnection; rooms: LocalRoom[]; takenOver: boolean } | undefined): void {
    if (previous?.takenOver) {
      this.closed(previous.connection, CloseCode.SESSION_TAKEN_OVER, 'session resumed elsewhere', 'session_taken_over', false);
    }
  }

  private closed(connection: ClientConnection, code: number, reason: string, cause: CloseCause, resumable: boolean): void {
    this.events.publish(
      ConnectionManagerEvent.ConnectionClosed,
      new ConnectionClosedEvent(connection.id, connection.sessionId, connection.userId, connection.tenantId, code, reason, cause, resumable),
    );
  }

  private established(connection: ClientConnection, resumed: boolean): void {
    this.events.publish(
      ConnectionManagerEvent.ConnectionEstablished,
      new ConnectionEstablishedEvent(connection.id, connection.sessionId, connection.userId, connection.tenantId, connection.identity.name, connection.ip, resumed),
    );
  }

  private ack(connection: ClientConnection, reconnectToken: string, resumed: boolean, rooms: string[], missed?: ConnectionAckFrame['missed']): ConnectionAckFrame {
    const ack: ConnectionAckFrame = {
      type: 'connection_ack',
      connectionId: connection.id,
      sessionId: connection.sessionId,
      userId: connection.userId,
      tenantId: connection.tenantId,
      reconnectToken,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      resumed,
      rooms,
    };
    if (missed !== undefined) ack.missed = missed;
    return ack;
  }
}
