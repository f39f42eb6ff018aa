import { Injectable } from '@nestjs/common';
import { TEXT_FRAME } from '../connections/socket-like.js';
import { LocalRoomRegistry } from './local-room.registry.js';

/**
 * The broadcast path: one frame to every connection of a room. This is the hot path of
 * fan-out, so it does the least per recipient: the frame is serialized and turned into bytes
 * once, and each recipient gets the same Buffer (ws frames it without copying the payload).
 * No promise, no event and no closure per recipient.
 */
@Injectable()
export class RoomDelivery {
  constructor(private readonly local: LocalRoomRegistry) {}

  /** Delivers to this instance's connections of `key`; returns how many got it. */
  deliver(key: string, frame: object | string, exceptConnectionId?: string): number {
    const room = this.local.get(key);
    if (!room) return 0;
    const bytes = Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame));
    let n = 0;
    for (const connection of room.connections) {
      if (connection.id === exceptConnectionId || !connection.isOpen) continue;
      connection.socket.send(bytes, TEXT_FRAME);
      n++;
    }
    return n;
  }
}
