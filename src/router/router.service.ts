import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { ConnectionManagerEvent, ConnectionMessageEvent } from '../connection-manager/connection-manager.events.js';
import { RoomService } from '../domain/rooms/room.service.js';

/**
 * Reference Event Router module (c3-403): routes `connection.message` to the room's other
 * connections (the sender's other tabs included, never the sending connection).
 * The frame is serialized once here and the same bytes go to every recipient.
 */
@Injectable()
export class RouterService {
  constructor(private readonly rooms: RoomService) {}

  @OnEvent(ConnectionManagerEvent.ConnectionMessage)
  onMessage(event: ConnectionMessageEvent): void {
    const frame =
      `{"type":"message","roomId":${JSON.stringify(event.roomId)},"canvasId":${JSON.stringify(event.canvasId)},` +
      `"from":{"userId":${JSON.stringify(event.userId)},"connectionId":"${event.connectionId}"},"data":${JSON.stringify(event.data)}}`;
    this.rooms.publish(event.roomKey, frame, event.connectionId);
  }
}
