import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { CONNECTION_MANAGER_OPTIONS } from '../../connection-manager/connection-manager.constants.js';
import type { ResolvedConnectionManagerOptions } from '../../connection-manager/connection-manager.options.js';
import {
  ConnectionManagerEvent,
  RoomJoinedEvent,
  RoomLeftEvent,
  type RoomLeftReason,
} from '../../connection-manager/connection-manager.events.js';
import { MembershipStore } from '../../backends/membership/membership-store.interface.js';
import type { PresenceMember } from '../../protocol/protocol.types.js';
import type { ClientConnection } from '../connections/client-connection.js';
import { CanvasAccessPolicy } from './canvas-access-policy.interface.js';
import type { LocalRoom } from './local-room.js';
import { LocalRoomRegistry } from './local-room.registry.js';
import { roomKey } from './room-key.js';
import { RoomDelivery } from './room-delivery.js';

export type JoinOutcome =
  | { ok: true; room: LocalRoom; event: RoomJoinedEvent }
  | { ok: false; code: 'ROOM_FULL' | 'FORBIDDEN' | 'UNAVAILABLE'; message: string };

export interface JoinOptions {
  /** Runs after the membership is recorded and before `room.joined` is emitted (the reply goes here). */
  beforeEvents?: (room: LocalRoom) => void;
  /** Marks the join as part of a resume (carried in the event). */
  resumed?: boolean;
}

/**
 * Rooms: join (policy, atomic capacity), leave, members, broadcast. Membership lives in the
 * {@link MembershipStore}; the sockets of each room on this instance live in {@link LocalRoom}s,
 * which is what fan-out iterates.
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
    private readonly events: EventEmitter2,
  ) {}

  /**
   * Puts a connection into the tenant's room of `canvasId`. Idempotent: joining a room already
   * joined succeeds again without changing membership. Never throws: failures are outcomes.
   */
  async join(connection: ClientConnection, canvasId: string, opts: JoinOptions = {}): Promise<JoinOutcome> {
    const { identity } = connection;
    let allowed: boolean;
    try {
      allowed = await this.policy.canJoin(identity, canvasId);
    } catch (err) {
      this.logger.warn(`canvas access policy failed, treating as FORBIDDEN: ${(err as Error).message}`);
      allowed = false;
    }
    if (!allowed) return { ok: false, code: 'FORBIDDEN', message: 'access to this canvas is not allowed' };
    const key = roomKey(identity.tenantId, canvasId);
    let result;
    try {
      result = await this.store.join(key, { userId: identity.userId, connectionId: connection.id, name: identity.name }, this.options.roomCapacity);
    } catch (err) {
      this.logger.warn(`membership store unavailable on join: ${(err as Error).message}`);
      return { ok: false, code: 'UNAVAILABLE', message: 'rooms are temporarily unavailable, retry later' };
    }
    if (!result.ok) return { ok: false, code: 'ROOM_FULL', message: `room holds ${this.options.roomCapacity} users already` };
    if (connection.closed) {
      // The socket went away while the store answered: undo, as the close handler ran already.
      await this.store.leave(key, identity.userId, connection.id).catch(() => undefined);
      return { ok: false, code: 'UNAVAILABLE', message: 'connection closed' };
    }
    const room = this.local.add(key, identity.tenantId, canvasId, connection);
    connection.rooms.set(canvasId, room);
    opts.beforeEvents?.(room);
    const event = new RoomJoinedEvent(
      connection.id,
      connection.sessionId,
      identity.userId,
      identity.tenantId,
      key,
      room.wireId,
      canvasId,
      result.member,
      result.firstConnectionOfUser,
      result.members,
      opts.resumed ?? false,
    );
    // A repeated join changes nothing, but the joiner still gets presence_state again:
    // the event carries firstConnectionOfUser=false so nobody else hears of it.
    this.events.emit(ConnectionManagerEvent.RoomJoined, event);
    return { ok: true, room, event };
  }

  /**
   * Takes a connection out of a room. Returns false when it was not in it.
   * The local fan-out set is updated synchronously, so no frame reaches the connection after
   * this call starts, even while the shared store is still answering.
   */
  async leave(connection: ClientConnection, canvasId: string, reason: RoomLeftReason = 'leave'): Promise<boolean> {
    const room = connection.rooms.get(canvasId);
    if (!room) return false;
    connection.rooms.delete(canvasId);
    this.local.remove(room, connection);
    let last: boolean;
    try {
      last = (await this.store.leave(room.key, connection.userId, connection.id)).lastConnectionOfUser;
    } catch (err) {
      // The shared store re-registers live memberships when it comes back; a seat of a
      // connection that is gone is reclaimed by its lease.
      this.logger.warn(`membership store unavailable on leave: ${(err as Error).message}`);
      last = !this.userStillLocal(room, connection.userId);
    }
    this.events.emit(
      ConnectionManagerEvent.RoomLeft,
      new RoomLeftEvent(connection.id, connection.sessionId, connection.userId, connection.tenantId, room.key, room.wireId, canvasId, reason, last),
    );
    return true;
  }

  /** Leaves every room of a connection (on close). */
  async leaveAll(connection: ClientConnection, reason: RoomLeftReason): Promise<void> {
    await Promise.all([...connection.rooms.keys()].map((canvasId) => this.leave(connection, canvasId, reason)));
  }

  /** Presence of a room of a tenant: one entry per distinct user. */
  members(tenantId: string, canvasId: string): Promise<PresenceMember[]> {
    return this.store.members(roomKey(tenantId, canvasId));
  }

  /** The local part of a room, if any connection of this instance is in it. */
  localRoom(tenantId: string, canvasId: string): LocalRoom | undefined {
    return this.local.get(roomKey(tenantId, canvasId));
  }

  /** Rooms with at least one connection on this instance. */
  get localRoomCount(): number {
    return this.local.size;
  }

  /**
   * Sends one frame to every connection of a room except `exceptConnectionId`.
   * The frame is serialized once and the same bytes go to every recipient.
   */
  broadcast(tenantId: string, canvasId: string, frame: object | string, exceptConnectionId?: string): number {
    return this.delivery.deliver(roomKey(tenantId, canvasId), frame, exceptConnectionId);
  }

  /** Like {@link broadcast}, by internal room key (as carried by events). */
  broadcastToRoomKey(key: string, frame: object | string, exceptConnectionId?: string): number {
    return this.delivery.deliver(key, frame, exceptConnectionId);
  }

  private userStillLocal(room: LocalRoom, userId: string): boolean {
    for (const c of room.connections) if (c.userId === userId) return true;
    return false;
  }
}
