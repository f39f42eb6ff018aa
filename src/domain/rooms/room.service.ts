import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { RoomBus } from '../ports/room-bus.port.js';
import { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { ConnectionManagerEvent, RoomJoinRefusedEvent, RoomJoinedEvent, RoomLeftEvent, type RoomLeftReason } from '../../kernel/connection-manager.events.js';
import { MembershipStore, type MembershipJoinResult } from '../ports/membership-store.port.js';
import type { PresenceMember } from '../../protocol/protocol.types.js';
import type { ClientConnection } from '../connections/client-connection.js';
import { SessionService } from '../sessions/session.service.js';
import { CanvasAccessPolicy } from '../ports/canvas-access-policy.port.js';
import { InstanceRoomSet } from '../cluster/instance-room-set.js';
import { TenantQuotas } from '../quotas/tenant-quotas.js';
import type { LocalRoom } from './local-room.js';
import { LocalRoomRegistry } from './local-room.registry.js';
import { RoomDelivery, type DeliveryStats } from './room-delivery.js';
import { roomKey } from './room-key.js';
import { errorMessage } from '../../kernel/error-message.js';
import { RoomLog, parsePosition, type LogAppendResult } from '../ports/room-log.port.js';
import { ErrorCode, type AckFrame, type ErrorFrame, type RequestId } from '../../protocol/protocol.types.js';
import { ConnectionService } from '../connections/connection.service.js';

/** A room message to publish (see {@link RoomService.publish}). */
export interface RoomMessage {
  roomKey: string;
  /** The frame after its opening `{"type":"message","pos":"<pos>",`: the room log writes the position in. */
  frameTail: string;
  /** The sending connection: neither it nor any connection of its session gets the message. */
  senderConnectionId?: string;
  /** The message's `seq` (acknowledged idempotent publish), when it had one. */
  seq?: number;
  /** The frame's `id`, echoed on its `ack` or error. */
  requestId?: RequestId;
}

export type JoinFailure = { ok: false; code: 'ROOM_FULL' | 'FORBIDDEN' | 'UNAVAILABLE' | 'TOO_MANY_ROOMS'; message: string };
export type JoinOutcome = { ok: true; room: LocalRoom; event: RoomJoinedEvent } | JoinFailure;
/** A seat taken in the membership store, not yet attached to the connection. */
export type SeatReservation = {
  ok: true;
  canvasId: string;
  key: string;
  result: Extract<MembershipJoinResult, { ok: true }>;
  /** Cluster mode: the local room kept (subscribed, position known) until the seat is attached or given back. */
  prepared?: LocalRoom;
};

export interface JoinOptions {
  /** Runs after the membership is recorded and before `room.joined` is published (the reply goes here). */
  beforeEvents?: (room: LocalRoom) => void;
}

/**
 * Rooms: join (access policy, atomic capacity), leave, members, broadcast. Membership lives in
 * the {@link MembershipStore}; the sockets of each room on this instance live in LocalRooms,
 * which is what fan-out iterates. A join is reserve (async: policy, store) then attach (sync:
 * local fan-out set) then announce (`room.joined`); resume uses the steps one by one.
 */
@Injectable()
export class RoomService {
  private readonly logger = new Logger(RoomService.name);
  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Inject(MembershipStore) private readonly store: MembershipStore,
    @Inject(CanvasAccessPolicy) private readonly policy: CanvasAccessPolicy,
    private readonly local: LocalRoomRegistry,
    private readonly delivery: RoomDelivery,
    private readonly sessions: SessionService,
    private readonly events: DomainEventPublisher,
    private readonly instanceRooms: InstanceRoomSet,
    private readonly tenantQuotas: TenantQuotas,
    @Inject(RoomLog) private readonly log: RoomLog,
    private readonly connections: ConnectionService,
    @Optional() @Inject(RoomBus) private readonly bus?: RoomBus,
  ) {}

  /**
   * Puts a connection into the tenant's room of `canvasId`. Idempotent: joining a room already
   * joined succeeds again without changing membership. A connection in `maxRoomsPerConnection`
   * rooms gets TOO_MANY_ROOMS for any other one. Never throws: failures are outcomes.
   */
  async join(connection: ClientConnection, canvasId: string, opts: JoinOptions = {}): Promise<JoinOutcome> {
    // Frames of a connection are handled one at a time, so no other join of it is in flight here.
    const max = this.options.maxRoomsPerConnection;
    const seat: SeatReservation | JoinFailure =
      connection.rooms.size >= max && !connection.rooms.has(canvasId)
        ? { ok: false, code: 'TOO_MANY_ROOMS', message: `a connection can be in at most ${max} rooms` }
        : await this.reserve(connection, canvasId);
    if (!seat.ok) {
      this.events.publish(ConnectionManagerEvent.RoomJoinRefused, new RoomJoinRefusedEvent({ ...connection.ref(), canvasId, code: seat.code }));
      return seat;
    }
    // The room is in the session's stored list before the join is confirmed (issue 16: a crash
    // right after room_joined must not drop it from the crash-resume).
    if (!seat.result.alreadyJoined) await this.sessions.rememberRoom(connection, canvasId);
    const attached = this.attach(connection, seat, false);
    if (!attached.ok) return attached;
    opts.beforeEvents?.(attached.room);
    this.announce(attached.event);
    return attached;
  }

  /**
   * Step 1 of a join: the access policy, then an atomic seat in the membership store, within
   * the tenant's room capacity (a TenantQuotaPolicy's, else `roomCapacity`).
   */
  async reserve(connection: ClientConnection, canvasId: string): Promise<SeatReservation | JoinFailure> {
    const { identity } = connection;
    let allowed: boolean;
    try {
      allowed = await this.policy.canJoin(identity, canvasId);
    } catch (err) {
      this.logger.warn(`canvas access policy failed, treating as FORBIDDEN: ${errorMessage(err)}`);
      allowed = false;
    }
    if (!allowed) return { ok: false, code: 'FORBIDDEN', message: 'access to this canvas is not allowed' };
    const key = roomKey(identity.tenantId, canvasId);
    // Without a host policy every tenant has the module's capacity: no lookup, no extra await.
    const roomCapacity = this.tenantQuotas.hasPolicy ? (await this.tenantQuotas.quotaOf(identity.tenantId)).roomCapacity : this.options.roomCapacity;
    try {
      // Cluster mode: the room is in this instance's set before its seat exists (InstanceRoomSet).
      await this.instanceRooms.acquire(key);
      const result = await this.store.join(key, { userId: identity.userId, connectionId: connection.id, name: identity.name }, roomCapacity);
      // A refused or repeated join took no new seat.
      if (!result.ok || result.alreadyJoined) this.instanceRooms.release(key);
      if (!result.ok) return { ok: false, code: 'ROOM_FULL', message: `the room already holds ${roomCapacity} users` };
      const seat: SeatReservation = { ok: true, canvasId, key, result };
      await this.preparePosition(seat, connection.tenantId);
      return seat;
    } catch (err) {
      this.instanceRooms.release(key);
      this.logger.warn(`membership store unavailable on join: ${errorMessage(err)}`);
      return { ok: false, code: 'UNAVAILABLE', message: 'rooms are temporarily unavailable, retry later' };
    }
  }

  /**
   * Step 2 (synchronous): adds the connection to the local fan-out set. From here on it gets
   * the room's frames. If the socket closed while the seat was being taken, the seat is given back.
   */
  attach(connection: ClientConnection, seat: SeatReservation, resumed: boolean): JoinOutcome {
    if (connection.closed) {
      this.giveBack(connection, seat);
      return { ok: false, code: 'UNAVAILABLE', message: 'connection closed' };
    }
    const room = this.local.add(seat.key, connection.tenantId, seat.canvasId, connection);
    this.endPreparing(seat);
    // In memory the log is here and synchronous: its head is exactly what this connection has not yet got.
    if (room.lastPos === undefined && !this.log.deliversItself) {
      const head = this.log.head(seat.key) as { epoch: string; n: number };
      room.lastPos = `${head.epoch}.${head.n}`;
    }
    const { result } = seat;
    // A repeated join changes nothing, but the joiner still gets presence_state again: the
    // event carries firstConnectionOfUser=false, so nobody else hears of it.
    const event = new RoomJoinedEvent({
      ...connection.ref(),
      roomKey: seat.key,
      roomId: room.wireId,
      canvasId: seat.canvasId,
      member: result.member,
      firstConnectionOfUser: result.firstConnectionOfUser,
      members: result.members,
      resumed,
    });
    return { ok: true, room, event };
  }

  /** Gives back a seat that was reserved but never attached (the connection closed meanwhile). No event: nobody was told of it. */
  giveBack(connection: ClientConnection, seat: SeatReservation): void {
    this.endPreparing(seat);
    if (seat.result.alreadyJoined) return;
    this.store.leave(seat.key, connection.userId, connection.id).then(
      () => this.instanceRooms.release(seat.key),
      () => this.instanceRooms.release(seat.key, { seatMayRemain: true }),
    );
  }

  /** Step 3: publishes `room.joined` (Presence answers it with presence_state/presence_join). */
  announce(event: RoomJoinedEvent): void {
    this.events.publish(ConnectionManagerEvent.RoomJoined, event);
  }

  /**
   * Takes a connection out of a room. Returns false when it was not in it. The local fan-out
   * set changes synchronously, so no frame reaches the connection once this call starts.
   */
  async leave(connection: ClientConnection, canvasId: string, reason: RoomLeftReason = 'leave'): Promise<boolean> {
    const room = connection.rooms.get(canvasId);
    if (!room) return false;
    this.local.remove(room, connection);
    await this.releaseSeat(connection, room, reason);
    return true;
  }

  /** Removes a connection from every local fan-out set at once; returns the rooms it was in. */
  detachAll(connection: ClientConnection): LocalRoom[] {
    const rooms = connection.rooms.values();
    for (const room of rooms) this.local.remove(room, connection);
    return rooms;
  }

  /** Gives a connection's seat in a room back to the store and publishes `room.left`. */
  async releaseSeat(connection: ClientConnection, room: LocalRoom, reason: RoomLeftReason): Promise<void> {
    let last: boolean;
    try {
      last = (await this.store.leave(room.key, connection.userId, connection.id)).lastConnectionOfUser;
      this.instanceRooms.release(room.key);
    } catch (err) {
      // A shared store re-registers live memberships when it comes back; the seat of a gone
      // connection is reclaimed by its instance lease.
      this.instanceRooms.release(room.key, { seatMayRemain: true });
      this.logger.warn(`membership store unavailable on leave: ${errorMessage(err)}`);
      last = ![...room.connections].some((c) => c.userId === connection.userId);
    }
    this.events.publish(
      ConnectionManagerEvent.RoomLeft,
      new RoomLeftEvent({
        ...connection.ref(),
        roomKey: room.key,
        roomId: room.wireId,
        canvasId: room.canvasId,
        reason,
        lastConnectionOfUser: last,
      }),
    );
  }

  /** Presence of a room of a tenant: one entry per distinct user. */
  members(tenantId: string, canvasId: string): Promise<PresenceMember[]> {
    return this.store.members(roomKey(tenantId, canvasId));
  }

  /** The local part of a room, if any connection of this instance is in it. */
  localRoom(tenantId: string, canvasId: string): LocalRoom | undefined {
    return this.local.get(roomKey(tenantId, canvasId));
  }

  /** The broadcast path's counters (read at scrape time; plain numbers, never reset). */
  get deliveryStats(): Readonly<DeliveryStats> {
    return this.delivery.stats;
  }

  /** Rooms with at least one connection on this instance. */
  get localRoomCount(): number {
    return this.local.size;
  }

  /**
   * Sends one frame to every connection of a room except `exceptConnectionId` (not kept for
   * replay: use {@link publish} for room messages). Serialized once, same bytes to everyone.
   */
  broadcast(tenantId: string, canvasId: string, frame: object | string, exceptConnectionId?: string): number {
    return this.broadcastToRoomKey(roomKey(tenantId, canvasId), frame, exceptConnectionId);
  }

  /**
   * Like {@link broadcast}, by internal room key (as carried by events). Returns the number of
   * local recipients; in cluster mode the frame also goes to the room's other instances.
   */
  broadcastToRoomKey(key: string, frame: object | string, exceptConnectionId?: string): number {
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    this.bus?.publish(key, text, exceptConnectionId, undefined);
    return this.delivery.deliver(key, text, exceptConnectionId);
  }

  /**
   * Cluster mode: makes sure the local room's `lastPos` is known before the seat is attached, so
   * `room_joined.pos` is exact: the room is kept open (subscribed) while this runs, the
   * subscription is confirmed first, then the log's head is read. Every message after that head
   * reaches this instance from then on, and deliveries raise `lastPos` as they come (see
   * LocalRoom.lastPos). Read on every join, not only a room's first: a log lost meanwhile (a
   * Redis restart) has a new epoch, and a position of the old one would be answered `truncated`.
   * Rejects when the log is unreachable (the join answers UNAVAILABLE).
   */
  private async preparePosition(seat: SeatReservation, tenantId: string): Promise<void> {
    if (!this.log.deliversItself) return;
    const { room, subscribed } = this.local.prepare(seat.key, tenantId, seat.canvasId);
    seat.prepared = room;
    try {
      await subscribed;
      const head = await this.log.head(seat.key);
      const current = room.lastPos === undefined ? undefined : parsePosition(room.lastPos);
      if (current === undefined || current.epoch !== head.epoch || current.n < head.n) room.lastPos = `${head.epoch}.${head.n}`;
    } catch (err) {
      this.endPreparing(seat);
      throw err;
    }
  }

  private endPreparing(seat: SeatReservation): void {
    const room = seat.prepared;
    if (room === undefined) return;
    seat.prepared = undefined;
    this.local.endPreparing(room);
  }

  /**
   * Publishes a room message: appended to the room's log (which gives it its position), then
   * delivered to every connection of the room but the sender's session's, on every instance,
   * and kept for the room's away sessions. In memory the log is here and this runs synchronously;
   * in cluster mode one Redis script appends and publishes, and every instance (this one
   * included) delivers on the bus, in log order.
   *
   * With a `seq` (acknowledged idempotent publish): a `seq` the session already had accepted in
   * the room is a resend, answered `ack` and not delivered again; otherwise the sender gets `ack`
   * once the message is in the log (and, in memory, delivered). If the log is unreachable
   * (cluster mode, Redis down) a message with `seq` is answered UNAVAILABLE and not delivered
   * (the client may send it again); one without `seq` is delivered to this instance's members
   * only, without a position (fire and forget, as before logs existed).
   */
  publish(message: RoomMessage): void;
  /**
   * @deprecated since 1.1.0: pass a {@link RoomMessage} (the frame without its opening, so the
   * log can write the position in). `frame` is a whole `{"type":"message",…}` frame (any other
   * JSON value becomes the `data` of one), `exceptConnectionId` the sender.
   */
  publish(roomKey: string, frame: string, exceptConnectionId?: string): void;
  publish(messageOrKey: RoomMessage | string, frame?: string, exceptConnectionId?: string): void {
    const message = typeof messageOrKey === 'string' ? legacyMessage(messageOrKey, frame ?? '{}', exceptConnectionId) : messageOrKey;
    const sender = this.delivery.senderOf(message.senderConnectionId);
    const connection = message.senderConnectionId === undefined ? undefined : this.connections.get(message.senderConnectionId);
    if (message.seq !== undefined && connection !== undefined && message.seq <= connection.lastSeq) {
      this.acknowledge(connection, message);
      return;
    }
    let result: LogAppendResult | Promise<LogAppendResult>;
    try {
      result = this.log.append({ roomKey: message.roomKey, sender, seq: message.seq, frameTail: message.frameTail });
    } catch (err) {
      this.logUnavailable(message, sender, err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (r) => this.accepted(message, sender, r),
        (err: unknown) => this.logUnavailable(message, sender, err),
      );
    } else this.accepted(message, sender, result);
  }

  private accepted(message: RoomMessage, sender: string | undefined, result: LogAppendResult): void {
    if (result.appended && !this.log.deliversItself) {
      this.sessions.append(message.roomKey, result.pos, result.frame, sender);
      this.delivery.deliver(message.roomKey, result.frame, sender, result.pos);
    }
    if (message.seq === undefined || message.senderConnectionId === undefined) return;
    const connection = this.connections.get(message.senderConnectionId);
    if (connection) this.acknowledge(connection, message);
  }

  private acknowledge(connection: ClientConnection, message: RoomMessage): void {
    const seq = message.seq!;
    if (seq > connection.lastSeq) connection.lastSeq = seq;
    const ack: AckFrame = message.requestId === undefined ? { type: 'ack', seq } : { type: 'ack', seq, id: message.requestId };
    connection.sendFrame(ack);
  }

  private logUnavailable(message: RoomMessage, sender: string | undefined, err: unknown): void {
    this.logger.warn(`room log unavailable, message ${message.seq === undefined ? 'delivered here only' : 'refused'}: ${errorMessage(err)}`);
    if (message.seq === undefined) {
      this.delivery.deliver(message.roomKey, `{"type":"message",${message.frameTail}`, sender);
      return;
    }
    const connection = message.senderConnectionId === undefined ? undefined : this.connections.get(message.senderConnectionId);
    if (!connection) return;
    const frame: ErrorFrame = { type: 'error', code: ErrorCode.UNAVAILABLE, message: 'the room log is unavailable, send again later', seq: message.seq };
    if (message.requestId !== undefined) frame.id = message.requestId;
    connection.sendFrame(frame);
  }
}

/** A {@link RoomMessage} from the arguments of the deprecated `publish(roomKey, frame, exceptConnectionId)`. */
function legacyMessage(roomKey: string, frame: string, senderConnectionId: string | undefined): RoomMessage {
  const head = '{"type":"message",';
  const frameTail = frame.startsWith(head) ? frame.slice(head.length) : JSON.stringify({ data: JSON.parse(frame) as unknown }).slice(1);
  return { roomKey, frameTail, senderConnectionId };
}
