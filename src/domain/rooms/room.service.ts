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
import { RoomLog, parsePosition } from '../ports/room-log.port.js';
import { RoomMessages, type RoomMessage } from './room-messages.js';

export type JoinFailure = { ok: false; code: 'ROOM_FULL' | 'FORBIDDEN' | 'UNAVAILABLE' | 'TOO_MANY_ROOMS'; message: string };
export type JoinOutcome =
  | {
      ok: true;
      room: LocalRoom;
      event: RoomJoinedEvent;
      /**
       * The room log's position when the connection was attached: it receives every logged message
       * after it and none at or below it (`room_joined.pos`). Empty when unknown.
       */
      pos: string;
    }
  | JoinFailure;
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
  /**
   * Runs after the membership is recorded and before `room.joined` is published (the reply goes
   * here). `pos` is the position the connection was attached at ({@link JoinOutcome}'s `pos`).
   */
  beforeEvents?: (room: LocalRoom, pos: string) => void;
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
    private readonly messages: RoomMessages,
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
    // Cluster mode: presence changes published by other instances between the seat's snapshot of
    // the members and the attach would be lost to the joiner; so the live frames are held from
    // the attach, the members read again, and the held frames sent after presence_state (a
    // presence frame says who is there, so one also in the snapshot changes nothing).
    // In memory nothing can come in between: every step is a microtask of this join.
    const hold = this.bus !== undefined && connection.held === null;
    if (hold) connection.held = [];
    const attached = this.attach(connection, seat, false);
    if (attached.ok && hold) attached.event = await this.withCurrentMembers(connection, attached.event);
    // From here to the last send all is synchronous: nothing is delivered in between.
    const held = hold ? connection.held : null;
    if (hold) connection.held = null;
    if (!attached.ok || connection.closed) return attached;
    opts.beforeEvents?.(attached.room, attached.pos);
    this.announce(attached.event);
    if (held) for (const h of held) connection.send(h.bytes);
    return attached;
  }

  /**
   * The `room.joined` event with the room's members read now (presence_state is built from it).
   * Read after the attach, while the connection's live frames are held, it and the held frames
   * together miss no presence change. The seat's snapshot stays when the store does not answer.
   */
  async withCurrentMembers(connection: ClientConnection, event: RoomJoinedEvent): Promise<RoomJoinedEvent> {
    const members = await this.store.members(event.roomKey).catch(() => undefined);
    const member = members?.find((m) => m.userId === connection.userId);
    return members && member ? new RoomJoinedEvent({ ...event, members, member }) : event;
  }

  /**
   * Step 1 of a join: the access policy, then an atomic seat in the membership store, within
   * the tenant's room capacity (a TenantQuotaPolicy's, else `roomCapacity`).
   */
  async reserve(connection: ClientConnection, canvasId: string): Promise<SeatReservation | JoinFailure> {
    const { identity } = connection;
    let allowed: boolean;
    try {
      // A synchronous policy (the default reads the JWT's claims) is not awaited: one microtask less per join.
      const answer = this.policy.canJoin(identity, canvasId);
      allowed = typeof answer === 'boolean' ? answer : await answer;
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
      const listed = this.instanceRooms.acquire(key);
      if (listed !== undefined) await listed;
      const result = await this.store.join(key, { userId: identity.userId, connectionId: connection.id, name: identity.name }, roomCapacity);
      // A refused or repeated join took no new seat.
      if (!result.ok || result.alreadyJoined) this.instanceRooms.release(key);
      if (!result.ok) return { ok: false, code: 'ROOM_FULL', message: `the room already holds ${roomCapacity} users` };
      const seat: SeatReservation = { ok: true, canvasId, key, result };
      if (this.log.deliversItself) await this.preparePosition(seat, connection.tenantId);
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
    // Read now, not when room_joined is written: in cluster mode the join still awaits the members
    // after this, and messages delivered meanwhile (held for the joiner, sent after room_joined)
    // move room.lastPos past them.
    const pos = room.lastPos ?? '';
    // A repeated join is of a member already receiving: a floor would take late messages from it.
    if (!resumed && !seat.result.alreadyJoined && this.log.deliversItself) this.floorAt(connection, seat.key, pos);
    const { result } = seat;
    // A repeated join changes nothing, but the joiner still gets presence_state again: the
    // event carries firstConnectionOfUser=false, so nobody else hears of it.
    // Every field written out (no spread of connection.ref()): a spread followed by more fields
    // builds its object through runtime map transitions on each call, which the connect
    // profile showed as the biggest single cost of a join (issue 15).
    const event = new RoomJoinedEvent({
      connectionId: connection.id,
      sessionId: connection.sessionId,
      userId: connection.userId,
      tenantId: connection.tenantId,
      roomKey: seat.key,
      roomId: room.wireId,
      canvasId: seat.canvasId,
      member: result.member,
      firstConnectionOfUser: result.firstConnectionOfUser,
      members: result.members,
      resumed,
    });
    return { ok: true, room, event, pos };
  }

  /**
   * Cluster mode: the room's bus can lag behind the log's head read in preparePosition (the
   * subscriber connection and the command connection are two sockets, read in either order), so
   * messages at or below the join position may still arrive after the attach; the joiner, told
   * it starts after `pos`, must not get them. Its replay floor for the room drops them, and the
   * first message above it lifts the floor (RoomDelivery). A resume sets its floors from its log
   * reads instead (SessionResumeService).
   */
  private floorAt(connection: ClientConnection, key: string, pos: string): void {
    const floor = parsePosition(pos);
    if (floor === undefined) return;
    (connection.replayFloors ??= new Map()).set(key, floor);
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
    // A floor no message lifted goes too, or one joining and leaving quiet rooms would keep one per room ever joined.
    connection.dropReplayFloor(room.key);
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
        connectionId: connection.id,
        sessionId: connection.sessionId,
        userId: connection.userId,
        tenantId: connection.tenantId,
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
    return this.delivery.deliverBurst(key, text, exceptConnectionId);
  }

  /**
   * Cluster mode: makes sure the local room's `lastPos` is known before the seat is attached, so
   * `room_joined.pos` is exact: the room is kept open (subscribed) while this runs, the
   * subscription is confirmed first, then the log's head is read. Every message after that head
   * reaches this instance from then on, and deliveries raise `lastPos` as they come (see
   * LocalRoom.lastPos). Read on every join, not only a room's first: a log lost meanwhile (a
   * Redis restart) has a new epoch, and a position of the old one would be answered `truncated`.
   * Rejects when the log is unreachable (the join answers UNAVAILABLE). Only for a log that
   * delivers itself; the caller checks (no promise per join in memory).
   */
  private async preparePosition(seat: SeatReservation, tenantId: string): Promise<void> {
    const { room, subscribed } = this.local.prepare(seat.key, tenantId, seat.canvasId);
    seat.prepared = room;
    try {
      await subscribed;
      const head = await this.log.head(seat.key);
      const current = room.lastPos === undefined ? undefined : parsePosition(room.lastPos);
      if (current === undefined || current.epoch !== head.epoch || current.n < head.n) room.lastPos = `${head.epoch}.${head.n}`;
      // Log order starts at the room's first head: nobody attached here is owed what came before.
      // Later joins leave it (messages below their head may still be on their way to the members).
      room.delivered ??= { epoch: head.epoch, n: head.n };
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
   * Publishes a room message (see {@link RoomMessages.publish}): appended to the room's log, then
   * delivered to every connection of the room but the sender's session's, on every instance, and
   * acknowledged when it has a `seq`.
   */
  publish(message: RoomMessage): void;
  /**
   * @deprecated since 1.1.0: pass a {@link RoomMessage} (the frame without its opening, so the
   * log can write the position in). `frame` is a whole `{"type":"message",…}` frame (any other
   * JSON value becomes the `data` of one), `exceptConnectionId` the sender.
   */
  publish(roomKey: string, frame: string, exceptConnectionId?: string): void;
  publish(messageOrKey: RoomMessage | string, frame?: string, exceptConnectionId?: string): void {
    this.messages.publish(typeof messageOrKey === 'string' ? legacyMessage(messageOrKey, frame ?? '{}', exceptConnectionId) : messageOrKey);
  }
}

/** A {@link RoomMessage} from the arguments of the deprecated `publish(roomKey, frame, exceptConnectionId)`. */
function legacyMessage(roomKey: string, frame: string, senderConnectionId: string | undefined): RoomMessage {
  const head = '{"type":"message",';
  const frameTail = frame.startsWith(head) ? frame.slice(head.length) : JSON.stringify({ data: JSON.parse(frame) as unknown }).slice(1);
  return { roomKey, frameTail, senderConnectionId };
}
