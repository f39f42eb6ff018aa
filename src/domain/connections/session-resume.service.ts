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
import { RoomLog, atOrBelow, parsePosition, type LoggedMessage } from '../ports/room-log.port.js';

/** What the resume replays: from the room logs (rooms the client gave a position for) and from the session's buffers (the others). */
interface Replay {
  /** Per room, the log's messages after the client's position, in order. */
  logged: Array<{ roomKey: string; messages: LoggedMessage[] }>;
  /** The session's buffered messages of the rooms without a position (oldest first). */
  buffered: MissedMessage[];
  truncated: boolean;
  /** Per room key, the highest position number the client has or is sent (held live frames at or below it are not sent again). */
  floors: Map<string, { epoch: string; n: number }>;
}

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
  replay: Replay;
  lastSeq: number;
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
    @Inject(RoomLog) private readonly log: RoomLog,
    private readonly connections: ConnectionService,
    private readonly lifecycle: ConnectionLifecycleService,
    private readonly rooms: RoomService,
    private readonly sessions: SessionService,
    private readonly expiry: TokenExpiryService,
    private readonly events: DomainEventPublisher,
  ) {}

  /**
   * `positions`: the client's last processed position per canvas, from the upgrade. Rooms with
   * one are replayed from the room log, exactly after it; rooms without from the session's
   * buffers, as before positions existed.
   */
  async resume(connection: ClientConnection, record: SessionRecord, positions?: ReadonlyMap<string, string>): Promise<void> {
    const predecessor = await this.takeOverPredecessor(record);
    const canvasIds = predecessor?.takenOver ? predecessor.rooms.map((r) => r.canvasId) : record.rooms;
    const { seats, failures } = await this.reserveSeats(connection, canvasIds);
    if (predecessor) await this.handOverSeats(predecessor);
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
    await this.refreshMembers(connection, restored);
    this.sessions.rememberRooms(
      connection,
      restored.map((r) => r.room.canvasId),
    );
    // Independent reads: one round trip of each at once in cluster mode.
    const [replay, lastSeq] = await Promise.all([
      this.readReplay({ connection, record, predecessor, restored, failures, positions }),
      this.lastSeqOf(connection, record, restored),
    ]);
    const held = connection.held;
    connection.held = null;
    if (connection.closed) return this.predecessorClosed(predecessor);

    const missedState = this.sendBurst(connection, { reconnectToken, restored, failures, replay, lastSeq, held });
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
   * Step 3: the predecessor's seats go before the presence snapshot is taken (step 4b), so a
   * user who resumes is one connection in presence, not two.
   */
  private async handOverSeats(predecessor: Predecessor): Promise<void> {
    await this.lifecycle.releaseSeats(predecessor.connection, predecessor.rooms);
  }

  /**
   * Step 4b: each restored room's members read again now that the connection is attached and its
   * live frames held, so presence_state and the held presence frames after it miss no change made
   * while the seats were being taken (other connections' joins and leaves, a predecessor's seats
   * handed over): a user who resumes is one connection in presence, and sees everyone who is there.
   */
  private async refreshMembers(connection: ClientConnection, restored: RestoredRoom[]): Promise<void> {
    const events = await Promise.all(restored.map((r) => this.rooms.withCurrentMembers(connection, r.event)));
    events.forEach((event, i) => (restored[i]!.event = event));
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
   * Step 5: what the session missed in the restored rooms. A room the client gave a position
   * for is read from the room log after that position (`truncated` if the position fell out of
   * the log or its epoch changed); the others from the session's buffers, as before positions:
   * a session whose holder vanished without a close (crashed instance) has no buffer, and a
   * store outage also answers `truncated` (the client refetches). Buffers of rooms not restored,
   * or replayed from the log instead, are dropped.
   */
  private async readReplay(resume: {
    connection: ClientConnection;
    record: SessionRecord;
    predecessor: Predecessor | undefined;
    restored: RestoredRoom[];
    failures: FailedRoom[];
    positions: ReadonlyMap<string, string> | undefined;
  }): Promise<Replay> {
    const { connection, record, predecessor, restored, failures, positions } = resume;
    const fromLog = positions ? restored.filter((r) => positions.has(r.room.canvasId)) : [];
    const fromBuffer = restored.filter((r) => !fromLog.includes(r));
    const replay: Replay = { logged: [], buffered: [], truncated: false, floors: new Map() };
    try {
      await this.readLogs(connection, fromLog, positions, replay);
    } catch (err) {
      this.logger.warn(`room log unavailable on resume: ${errorMessage(err)}`);
      replay.logged = [];
      replay.truncated = true;
    }
    const bufferKeys = fromBuffer.map((r) => r.room.key);
    const candidates = [
      ...(predecessor?.rooms ?? []).map((r) => r.key),
      ...failures.map((f) => roomKey(connection.tenantId, f.canvasId)),
      ...fromLog.map((r) => r.room.key),
    ];
    const droppedKeys = [...new Set(candidates)].filter((k) => !bufferKeys.includes(k));
    let missed: MissedMessages;
    try {
      missed = await this.sessions.takeMissed(connection.sessionId, bufferKeys);
      if (droppedKeys.length > 0) this.sessions.takeMissed(connection.sessionId, droppedKeys).catch(() => undefined);
    } catch (err) {
      this.logger.warn(`replay buffer unavailable: ${errorMessage(err)}`);
      missed = { messages: [], truncated: bufferKeys.length > 0 };
    }
    if (bufferKeys.length > 0 && (record.awayUntil === 0 || record.lostBuffer) && !predecessor) missed.truncated = true;
    replay.buffered = missed.messages;
    replay.truncated ||= missed.truncated;
    return replay;
  }

  /** The log reads of the rooms with a position, in parallel (one round trip in cluster mode). */
  private async readLogs(
    connection: ClientConnection,
    rooms: RestoredRoom[],
    positions: ReadonlyMap<string, string> | undefined,
    replay: Replay,
  ): Promise<void> {
    if (!positions || rooms.length === 0) return;
    const reads = await Promise.all(rooms.map((r) => this.log.readAfter(r.room.key, positions.get(r.room.canvasId)!, connection.sessionId)));
    reads.forEach((read, i) => {
      const { key, canvasId } = rooms[i]!.room;
      replay.logged.push({ roomKey: key, messages: read.messages });
      replay.truncated ||= read.truncated;
      const given = parsePosition(positions.get(canvasId)!);
      const last = read.messages.at(-1);
      const lastPos = last ? parsePosition(last.pos) : undefined;
      const floor = lastPos ?? given;
      if (floor && !read.truncated) replay.floors.set(key, floor);
    });
  }

  /** The highest `seq` the session had accepted (in the rooms it is in or was in): the resumed ack's `lastSeq`. */
  private async lastSeqOf(connection: ClientConnection, record: SessionRecord, restored: RestoredRoom[]): Promise<number> {
    const keys = new Set([...record.rooms.map((c) => roomKey(connection.tenantId, c)), ...restored.map((r) => r.room.key)]);
    try {
      connection.lastSeq = Math.max(connection.lastSeq, await this.log.lastSeq(connection.sessionId, [...keys]));
    } catch (err) {
      // Unknown: 0 makes the client resend everything unacknowledged, and the logs' dedup (when back) drops what was accepted.
      this.logger.warn(`room log unavailable, lastSeq unknown on resume: ${errorMessage(err)}`);
    }
    return connection.lastSeq;
  }

  /** Step 6 (synchronous, nothing can come in between): ack, expiry, failures, presence, replay, held frames. */
  private sendBurst(connection: ClientConnection, burst: ResumeBurst): NonNullable<ConnectionAckFrame['missed']> {
    const { replay } = burst;
    const count = replay.buffered.length + replay.logged.reduce((n, l) => n + l.messages.length, 0);
    const missedState = replay.truncated ? 'truncated' : count > 0 ? 'replayed' : 'none';
    connection.sendFrame(
      connectionAck(connection, {
        reconnectToken: burst.reconnectToken,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        resumed: true,
        rooms: burst.restored.map((r) => r.room.canvasId),
        missed: missedState,
        lastSeq: burst.lastSeq,
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
    for (const { roomKey: key, messages } of replay.logged) {
      for (const m of messages) if (!connection.send(m.frame)) keepForNextResume(connection, { roomKey: key, id: m.pos, frame: m.frame });
    }
    for (const m of replay.buffered) {
      replayed.add(`${m.roomKey} ${m.id}`);
      if (!connection.send(m.frame)) keepForNextResume(connection, m);
    }
    for (const h of burst.held) {
      if (h.id !== undefined && (replayed.has(`${h.roomKey} ${h.id}`) || atOrBelow(h.id, replay.floors.get(h.roomKey)))) continue;
      if (!connection.send(h.bytes) && h.id !== undefined) keepForNextResume(connection, { roomKey: h.roomKey, id: h.id, frame: h.bytes.toString() });
    }
    // In cluster mode a message the replay read may still be on its way to this instance on the
    // bus (the read's reply can overtake it): it must not reach the client a second time.
    if (this.log.deliversItself && replay.floors.size > 0) connection.replayFloors = replay.floors;
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
