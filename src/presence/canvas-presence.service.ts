import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ConnectionManagerEvent, RoomJoinedEvent, RoomLeftEvent } from '../kernel/connection-manager.events.js';
import { EventSubscriptions } from '../kernel/event-subscriptions.js';
import { ConnectionService } from '../domain/connections/connection.service.js';
import { RoomService } from '../domain/rooms/room.service.js';
import type { PresenceJoinFrame, PresenceLeaveFrame, PresenceMember, PresenceStateFrame } from '../protocol/protocol.types.js';

/**
 * Reference Presence State module (c3-402): turns room events into presence frames.
 * - `room.joined` → presence_state to the joiner (the room as the join saw it, atomically),
 *   and presence_join to the others when it is the user's first connection in the room.
 * - `room.left` → presence_leave to the others when it was the user's last connection.
 * Listeners are synchronous, so presence_state follows room_joined with nothing in between.
 * It talks to the Connection Manager only through events and its exported services; it listens
 * with plain emitter listeners (no promise per event, unlike `@OnEvent`'s async wrapper).
 */
@Injectable()
export class CanvasPresenceService implements OnModuleInit, OnApplicationShutdown {
  private readonly subscriptions: EventSubscriptions;

  constructor(
    private readonly connections: ConnectionService,
    private readonly rooms: RoomService,
    events: EventEmitter2,
  ) {
    this.subscriptions = new EventSubscriptions(events, new Logger(CanvasPresenceService.name));
  }

  onModuleInit(): void {
    this.subscriptions
      .on(ConnectionManagerEvent.RoomJoined, (event: RoomJoinedEvent) => this.onRoomJoined(event))
      .on(ConnectionManagerEvent.RoomLeft, (event: RoomLeftEvent) => this.onRoomLeft(event));
  }

  /** Detached after the drain (beforeApplicationShutdown), whose leaves still reach the others. */
  onApplicationShutdown(): void {
    this.subscriptions.clear();
  }

  onRoomJoined(event: RoomJoinedEvent): void {
    const state: PresenceStateFrame = { type: 'presence_state', roomId: event.roomId, canvasId: event.canvasId, members: event.members };
    this.connections.send(event.connectionId, state);
    if (event.firstConnectionOfUser) {
      const join: PresenceJoinFrame = { type: 'presence_join', roomId: event.roomId, canvasId: event.canvasId, member: event.member };
      this.rooms.broadcastToRoomKey(event.roomKey, join, event.connectionId);
    }
  }

  onRoomLeft(event: RoomLeftEvent): void {
    if (!event.lastConnectionOfUser) return;
    const leave: PresenceLeaveFrame = { type: 'presence_leave', roomId: event.roomId, canvasId: event.canvasId, userId: event.userId };
    this.rooms.broadcastToRoomKey(event.roomKey, leave);
  }

  /** Who is in a canvas of a tenant right now (across instances in cluster mode). */
  members(tenantId: string, canvasId: string): Promise<PresenceMember[]> {
    return this.rooms.members(tenantId, canvasId);
  }
}
