import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ConnectionManagerEvent, ConnectionMessageEvent } from '../kernel/connection-manager.events.js';
import { EventSubscriptions } from '../kernel/event-subscriptions.js';
import { RoomService } from '../domain/rooms/room.service.js';

/**
 * Reference Event Router module (c3-403): routes `connection.message` to the room's other
 * connections (the sender's other tabs included, never the sending connection).
 * The frame is serialized once here and the same bytes go to every recipient.
 *
 * It listens with a plain emitter listener, not `@OnEvent`: Nest wraps each `@OnEvent`
 * handler in an async function, a promise per message that a synchronous router does not need
 * (see docs/performance.md).
 */
@Injectable()
export class CanvasMessageRouterService implements OnModuleInit, OnApplicationShutdown {
  private readonly subscriptions: EventSubscriptions;

  constructor(
    private readonly rooms: RoomService,
    events: EventEmitter2,
  ) {
    this.subscriptions = new EventSubscriptions(events, new Logger(CanvasMessageRouterService.name));
  }

  onModuleInit(): void {
    this.subscriptions.on(ConnectionManagerEvent.ConnectionMessage, (event: ConnectionMessageEvent) => this.onMessage(event));
  }

  /** Detached after the drain (beforeApplicationShutdown), whose messages still route. */
  onApplicationShutdown(): void {
    this.subscriptions.clear();
  }

  /**
   * The frame is written here without its opening (`{"type":"message","pos":"<pos>",`): the
   * room log writes the message's position in. `seq` and the request id go along so the sender
   * gets its `ack` (a host router that replaces this one must pass them on too).
   */
  onMessage(event: ConnectionMessageEvent): void {
    const frameTail =
      `"roomId":${JSON.stringify(event.roomId)},"canvasId":${JSON.stringify(event.canvasId)},` +
      `"from":{"userId":${JSON.stringify(event.userId)},"connectionId":"${event.connectionId}"},"data":${JSON.stringify(event.data)}}`;
    this.rooms.publish({ roomKey: event.roomKey, frameTail, senderConnectionId: event.connectionId, seq: event.seq, requestId: event.requestId });
  }
}
