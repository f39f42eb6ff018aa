import { Inject, Injectable, Optional } from '@nestjs/common';
import { RoomBus } from '../ports/room-bus.port.js';
import type { ClientConnection } from '../connections/client-connection.js';
import { wireRoomId } from '../../protocol/protocol.types.js';
import { LocalRoom } from './local-room.js';

/**
 * The rooms that have at least one connection on this instance, by tenant-scoped key.
 * An empty room is dropped at once, so the map only holds live rooms.
 */
@Injectable()
export class LocalRoomRegistry {
  private readonly rooms = new Map<string, LocalRoom>();

  /** In cluster mode, the instance subscribes to a room's bus channel exactly while it has local members. */
  constructor(@Optional() @Inject(RoomBus) private readonly bus?: RoomBus) {}

  get size(): number {
    return this.rooms.size;
  }

  get(key: string): LocalRoom | undefined {
    return this.rooms.get(key);
  }

  /** Adds a connection to the local room (creating it) and records the room on the connection. */
  add(key: string, tenantId: string, canvasId: string, connection: ClientConnection): LocalRoom {
    const room = this.open(key, tenantId, canvasId);
    room.connections.add(connection);
    connection.rooms.set(room);
    return room;
  }

  /**
   * Keeps the room (subscribed, counting deliveries in `lastPos`) while a join prepares its
   * position; {@link endPreparing} gives it back. Resolves once the bus subscription is confirmed.
   */
  prepare(key: string, tenantId: string, canvasId: string): { room: LocalRoom; subscribed: Promise<void> } {
    const room = this.open(key, tenantId, canvasId);
    room.preparing++;
    return { room, subscribed: room.subscribed ?? Promise.resolve() };
  }

  endPreparing(room: LocalRoom): void {
    room.preparing--;
    this.dropIfUnused(room);
  }

  /** Undoes {@link add}: drops the room from the connection and the connection from the room. */
  remove(room: LocalRoom, connection: ClientConnection): void {
    connection.rooms.delete(room.canvasId);
    room.connections.delete(connection);
    this.dropIfUnused(room);
  }

  private open(key: string, tenantId: string, canvasId: string): LocalRoom {
    let room = this.rooms.get(key);
    if (!room) {
      room = new LocalRoom(key, tenantId, canvasId, wireRoomId(canvasId));
      this.rooms.set(key, room);
      room.subscribed = this.bus?.subscribe(key);
    }
    return room;
  }

  private dropIfUnused(room: LocalRoom): void {
    if (room.connections.size === 0 && room.preparing === 0 && this.rooms.get(room.key) === room) {
      this.rooms.delete(room.key);
      this.bus?.unsubscribe(room.key);
    }
  }

  keys(): IterableIterator<string> {
    return this.rooms.keys();
  }

  values(): IterableIterator<LocalRoom> {
    return this.rooms.values();
  }
}
