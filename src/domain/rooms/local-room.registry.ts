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
    let room = this.rooms.get(key);
    if (!room) {
      room = new LocalRoom(key, tenantId, canvasId, wireRoomId(canvasId));
      this.rooms.set(key, room);
      this.bus?.subscribe(key);
    }
    room.connections.add(connection);
    connection.rooms.set(room);
    return room;
  }

  /** Undoes {@link add}: drops the room from the connection and the connection from the room. */
  remove(room: LocalRoom, connection: ClientConnection): void {
    connection.rooms.delete(room.canvasId);
    room.connections.delete(connection);
    if (room.connections.size === 0 && this.rooms.get(room.key) === room) {
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
