import type { PresenceJoinFrame, PresenceLeaveFrame, PresenceMember, PresenceStateFrame } from '../src/protocol/protocol.types.js';
import type { PresenceChange } from './types.js';

/** The server frames that change a room's member list. */
export type PresenceFrame = PresenceStateFrame | PresenceJoinFrame | PresenceLeaveFrame;

/**
 * What the server has told this connection about its rooms: which rooms it is in, and who is in
 * each (per user). Only the server's word goes in here; what the app *wants* is kept by the client.
 */
export class PresenceCache {
  /** Rooms the server says this connection is in. */
  private joinedRooms = new Set<string>();
  private readonly membersByRoom = new Map<string, Map<string, PresenceMember>>();

  /** The rooms (canvasIds) this connection is in, in the order they were joined. */
  get rooms(): string[] {
    return [...this.joinedRooms];
  }

  has(canvasId: string): boolean {
    return this.joinedRooms.has(canvasId);
  }

  /** A copy of the room's member list (empty when not joined), so the app cannot edit the cache. */
  members(canvasId: string): PresenceMember[] {
    return [...(this.membersByRoom.get(canvasId)?.values() ?? [])].map((m) => ({ ...m }));
  }

  /** `room_joined`: the member list follows in a `presence_state`. */
  joined(canvasId: string): void {
    this.joinedRooms.add(canvasId);
  }

  /** Drops the room and its members (left, or not restored). */
  forget(canvasId: string): void {
    this.joinedRooms.delete(canvasId);
    this.membersByRoom.delete(canvasId);
  }

  /**
   * A new connection's ack lists the rooms it is in: those replace ours, and the member lists of
   * rooms not among them go (the others stay until the `presence_state` the server sends next).
   */
  reset(rooms: readonly string[]): void {
    this.joinedRooms = new Set(rooms);
    for (const canvasId of [...this.membersByRoom.keys()]) if (!this.joinedRooms.has(canvasId)) this.membersByRoom.delete(canvasId);
  }

  /** Applies a presence frame; returns the change, for the `presence` event. */
  apply(frame: PresenceFrame): PresenceChange {
    switch (frame.type) {
      case 'presence_state': {
        const members = new Map<string, PresenceMember>();
        for (const m of frame.members) members.set(m.userId, m);
        this.membersByRoom.set(frame.canvasId, members);
        return { kind: 'state' };
      }
      case 'presence_join': {
        let members = this.membersByRoom.get(frame.canvasId);
        if (!members) this.membersByRoom.set(frame.canvasId, (members = new Map<string, PresenceMember>()));
        members.set(frame.member.userId, frame.member);
        return { kind: 'join', member: { ...frame.member } };
      }
      case 'presence_leave':
        this.membersByRoom.get(frame.canvasId)?.delete(frame.userId);
        return { kind: 'leave', userId: frame.userId };
    }
  }
}
