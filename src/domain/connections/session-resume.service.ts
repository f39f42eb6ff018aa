import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConnectionManagerEvent, SessionResumedEvent } from '../../kernel/connection-manager.events.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';
import { CloseCode, type ConnectionAckFrame, type ErrorFrame } from '../../protocol/protocol.types.js';
import type { MissedMessage, MissedMessages, SessionRecord } from '../ports/session-store.port.js';
import type { LocalRoom } from '../rooms/local-room.js';
import { roomKey } from '../rooms/room-key.js';
import { RoomService, type JoinFailure, type JoinOutcome, type SeatReservation } from '../rooms/room.service.js';
import { SessionService } from '../sessions/session.service.js';
import type { ClientConnection } from './client-connection.js';
import { connectionAck } from './connection-ack.js';
import { ConnectionLifecycleService } from './connection-lifecycle.service.js';
import { ConnectionService } from './connection.service.js';
import { TokenExpiryService } from './token-expiry.service.js';
import { errorMessage } from '../../kernel/error-message.js';

/** The connection a resume replaces: one still open (half-open TCP, taken over) or one lingering in presence. */
interface Predecessor {
  connection: ClientConnection;
  rooms: LocalRoom[];
  takenOver: boolean;
}

type RestoredRoom = Extract<JoinOutcome, { ok: true }>;
type FailedRoom = JoinFailure & { canvasId: string };

/** What the resumed connection is told, in this order, in one synchronous burst. */
interface ResumeBurst {
  reconnectToken: string;
  restored: RestoredRoom[];
  failures: FailedRoom[];
  missed: MissedMessages;
  /** Live room frames that arrived while the resume was being set up. */
  held: NonNullable<ClientConnection['held']>;
}

/** A replayable message that could not be sent because the connection is closing: it starts the session's next replay buffer. */
function keepForNextResume(connection: ClientConnection, message: MissedMessage): void {
  if (!connection.closed && connection.resumable) (connection.closingBuffer ??= []).push(message);
}

/**
 * Resumes a session on a new connection. Order on the wire: ack (resumed, rooms, missed) →
 * reauth_required if the session's token already expired → an error per room that could not be
 * restored → presence_state per restored room → the missed messages in their original order →
 * live frames that arrived while the resume was being set up (held, minus those replayed).
 */
@Injectable()
export class SessionResumeService {
  private readonly logger = new Logger(SessionResumeService.name);

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    private readonly connections: ConnectionService,
    private readonly lifecycle: ConnectionLifecycleService,
    private readonly rooms: RoomService,
    private readonly sessions: SessionService,
    private readonly expiry: TokenExpiryService,
    private readonly events: DomainEventPublisher,
  ) {}

  async resume(connection: ClientConnection, record: SessionRecord): Promise<void> {
    const predecessor = await this.takeOverPredecessor(record);
    const canvasIds = predecessor?.takenOver ? predecessor.rooms.map((r) => r.canvasId) : record.rooms;
    const { seats, failures } = await this.reserveSeats(connection, canvasIds);
    if (predecessor) await this.handOverSeats(connection, predecessor, seats);
    const reconnectToken = await this.sessions.activate(connection);
    if (connection.closed) {
      // Closed while its seats were being taken: nothing attached them, so its cleanup cannot
      // see them; give them back here (else they stay in presence as ghosts).
      for (const seat of seats) this.rooms.giveBack(connection, seat);
      return this.predecessorClosed(predecessor);
    }

    // Attach first and hold the live frames, then take the buffer: every message is either in
    // the buffer or held (or both, and then sent once, by id). Nothing is lost in between.
    connection.held = [];
    const restored = this.attachRooms(connection, seats);
    this.sessions.rememberRooms(
      connection,
      restored.map((r) => r.room.canvasId),
    );
    const missed = await this.takeMissed({ connection, record, predecessor, restored, failures });
    const held = connection.held;
    connection.held = null;
    if (connection.closed) return this.predecessorClosed(predecessor);

    const missedState = this.sendBurst(connection, { reconnectToken, restored, failures, missed, held });
    this.lifecycle.established(connection, true);
    this.events.publish(
      ConnectionManagerEvent.SessionResumed,
      new SessionResumedEvent({
        ...connection.ref(),
        previousConnectionId: record.connectionId,
        rooms: restored.map((r) => r.room.canvasId),
        missed: missedState,
      }),
    );
    this.predecessorClosed(predecessor);
  }

  /**
   * Step 1: the session's previous connection, if this instance still has it. One that still
   * looks open (half-open TCP) is taken over: detached now, its rooms' messages buffered until
   * the new connection is attached, and closed with 4000. One lingering in presence is adopted.
   */
  private async takeOverPredecessor(record: SessionRecord): Promise<Predecessor | undefined> {
    const holder = this.connections.get(record.connectionId);
    if (holder && !holder.closed) {
      const canvasIds = holder.rooms.keys();
      const rooms = this.lifecycle.detach(holder);
      await this.sessions.suspend(
        holder,
        rooms.map((r) => r.key),
        canvasIds,
      );
      this.connections.close(holder, {
        code: CloseCode.SESSION_TAKEN_OVER,
        reason: 'session resumed elsewhere',
        cause: 'session_taken_over',
        resumable: false,
      });
      return { connection: holder, rooms, takenOver: true };
    }
    const lingering = this.lifecycle.takeLingering(record.sessionId);
    return lingering ? { connection: lingering.connection, rooms: lingering.rooms, takenOver: false } : undefined;
  }

  /** Step 2: a seat in each room to restore (access policy and capacity apply again). */
  private async reserveSeats(connection: ClientConnection, canvasIds: string[]): Promise<{ seats: SeatReservation[]; failures: FailedRoom[] }> {
    const seats: SeatReservation[] = [];
    const failures: FailedRoom[] = [];
    for (const canvasId of canvasIds) {
      const seat = await this.rooms.reserve(connection, canvasId);
      if (seat.ok) seats.push(seat);
      else failures.push({ ...seat, canvasId });
    }
    return { seats, failures };
  }

  /**
   * Step 3: the predecessor's seats go before the presence snapshot is taken, so a user who
   * resumes is one connection in presence, not two; each seat's snapshot is then refreshed.
   */
  private async handOverSeats(connection: ClientConnection, predecessor: Predecessor, seats: SeatReservation[]): Promise<void> {
    await this.lifecycle.releaseSeats(predecessor.connection, predecessor.rooms);
    for (const seat of seats) {
      const members = await this.rooms.members(connection.tenantId, seat.canvasId).catch(() => undefined);
      const member = members?.find((m) => m.userId === connection.userId);
      if (members && member) seat.result = { ...seat.result, members, member };
    }
  }

  /** Step 4 (synchronous): the connection joins the local fan-out of every reserved room. */
  private attachRooms(connection: ClientConnection, seats: SeatReservation[]): RestoredRoom[] {
    const restored: RestoredRoom[] = [];
    for (const seat of seats) {
      const attached = this.rooms.attach(connection, seat, true);
      if (attached.ok) restored.push(attached);
    }
    return restored;
  }

  /**
   * Step 5: what the session missed in the restored rooms; what was kept for the other rooms is
   * dropped. A session whose holder vanished without a close (crashed instance) has no buffer:
   * `truncated`. A store outage also answers `truncated` (the client refetches).
   */
  private async takeMissed(resume: {
    connection: ClientConnection;
    record: SessionRecord;
    predecessor: Predecessor | undefined;
    restored: RestoredRoom[];
    failures: FailedRoom[];
  }): Promise<MissedMessages> {
    const { connection, record, predecessor, restored, failures } = resume;
    const restoredKeys = restored.map((r) => r.room.key);
    const candidates = [...(predecessor?.rooms ?? []).map((r) => r.key), ...failures.map((f) => roomKey(connection.tenantId, f.canvasId))];
    const droppedKeys = [...new Set(candidates)].filter((k) => !restoredKeys.includes(k));
    let missed: MissedMessages;
    try {
      missed = await this.sessions.takeMissed(connection.sessionId, restoredKeys);
      if (droppedKeys.length > 0) this.sessions.takeMissed(connection.sessionId, droppedKeys).catch(() => undefined);
    } catch (err) {
      this.logger.warn(`replay buffer unavailable: ${errorMessage(err)}`);
      missed = { messages: [], truncated: true };
    }
    if ((record.awayUntil === 0 || record.lostBuffer) && !predecessor) missed.truncated = true;
    return missed;
  }

  /** Step 6 (synchronous, nothing can come in between): ack, expiry, failures, presence, replay, held frames. */
  private sendBurst(connection: ClientConnection, burst: ResumeBurst): NonNullable<ConnectionAckFrame['missed']> {
    const { missed } = burst;
    const missedState = missed.truncated ? 'truncated' : missed.messages.length > 0 ? 'replayed' : 'none';
    connection.sendFrame(
      connectionAck(connection, {
        reconnectToken: burst.reconnectToken,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        resumed: true,
        rooms: burst.restored.map((r) => r.room.canvasId),
        missed: missedState,
      }),
    );
    this.expiry.schedule(connection);
    for (const failure of burst.failures) {
      const frame: ErrorFrame = { type: 'error', code: failure.code, message: failure.message, canvasId: failure.canvasId };
      connection.sendFrame(frame);
    }
    for (const r of burst.restored) this.rooms.announce(r.event);
    // Each frame passes the outbound bound: if the burst finds the client not reading, it is
    // closed (1013, resumable) and the replayable rest is kept for its next resume, not lost.
    const replayed = new Set<string>();
    for (const m of missed.messages) {
      replayed.add(m.id);
      if (!connection.send(m.frame)) keepForNextResume(connection, m);
    }
    for (const h of burst.held) {
      if (h.id !== undefined && replayed.has(h.id)) continue;
      if (!connection.send(h.bytes) && h.id !== undefined) keepForNextResume(connection, { roomKey: h.roomKey, id: h.id, frame: h.bytes.toString() });
    }
    return missedState;
  }

  /** The disconnect notification of a predecessor that was taken over (its seats are already released). */
  private predecessorClosed(predecessor: Predecessor | undefined): void {
    if (!predecessor?.takenOver) return;
    this.lifecycle.closed(predecessor.connection, {
      code: CloseCode.SESSION_TAKEN_OVER,
      reason: 'session resumed elsewhere',
      cause: 'session_taken_over',
      resumable: false,
    });
  }
}
