import type { PresenceMember } from '../../protocol/protocol.types.js';
import type { MembershipEntry, MembershipJoinResult, MembershipLeaveResult, MembershipStore } from '../../domain/ports/membership-store.port.js';
import { holds, sizeOf, withOne, withoutOne, type OneOrSet } from '../../domain/values/one-or-set.js';

/** A user's seat in a room: their display name and their connections there (one, usually: no Set). */
interface UserSeat {
  name: string | undefined;
  connections: OneOrSet<string>;
}

function toMember(userId: string, seat: UserSeat): PresenceMember {
  const connections = sizeOf(seat.connections);
  return seat.name === undefined ? { userId, connections } : { userId, name: seat.name, connections };
}

/**
 * The embedded default: rooms live in this process only. Every method completes synchronously
 * inside its promise, so capacity is atomic by construction. Empty rooms are deleted at once,
 * so memory follows live membership.
 */
export class InMemoryMembershipStore implements MembershipStore {
  /** roomKey → userId → seat. */
  private readonly rooms = new Map<string, Map<string, UserSeat>>();

  async join(roomKey: string, entry: MembershipEntry, capacity: number): Promise<MembershipJoinResult> {
    let room = this.rooms.get(roomKey);
    let seat = room?.get(entry.userId);
    if (!seat && room && room.size >= capacity) return { ok: false, reason: 'full' };
    if (!room) {
      room = new Map();
      this.rooms.set(roomKey, room);
    }
    const firstConnectionOfUser = !seat;
    let alreadyJoined = false;
    if (!seat) {
      seat = { name: entry.name, connections: entry.connectionId };
      room.set(entry.userId, seat);
    } else {
      if (entry.name !== undefined) seat.name = entry.name;
      alreadyJoined = holds(seat.connections, entry.connectionId);
      seat.connections = withOne(seat.connections, entry.connectionId);
    }
    return {
      ok: true,
      alreadyJoined,
      firstConnectionOfUser,
      member: toMember(entry.userId, seat),
      members: this.snapshot(room),
    };
  }

  async leave(roomKey: string, userId: string, connectionId: string): Promise<MembershipLeaveResult> {
    const room = this.rooms.get(roomKey);
    const seat = room?.get(userId);
    if (!room || !seat || !holds(seat.connections, connectionId)) return { removed: false, lastConnectionOfUser: false };
    const rest = withoutOne(seat.connections, connectionId);
    const last = rest === undefined;
    if (last) room.delete(userId);
    else seat.connections = rest;
    if (room.size === 0) this.rooms.delete(roomKey);
    return { removed: true, lastConnectionOfUser: last };
  }

  async members(roomKey: string): Promise<PresenceMember[]> {
    const room = this.rooms.get(roomKey);
    return room ? this.snapshot(room) : [];
  }

  /**
   * One process holds the whole room, so "this instance's part" is all of it: the room is made
   * to hold exactly `live` (names kept from `live` where given).
   */
  async resync(roomKey: string, _instanceId: string, live: MembershipEntry[]): Promise<string[]> {
    const room = this.rooms.get(roomKey) ?? new Map<string, UserSeat>();
    const before = new Set(room.keys());
    room.clear();
    for (const entry of live) {
      const seat = room.get(entry.userId);
      if (!seat) room.set(entry.userId, { name: entry.name, connections: entry.connectionId });
      else seat.connections = withOne(seat.connections, entry.connectionId);
    }
    if (room.size === 0) this.rooms.delete(roomKey);
    else this.rooms.set(roomKey, room);
    return [...before].filter((userId) => !room.has(userId));
  }

  /** Rooms currently held (for tests and metrics). */
  get roomCount(): number {
    return this.rooms.size;
  }

  private snapshot(room: Map<string, UserSeat>): PresenceMember[] {
    const out: PresenceMember[] = [];
    for (const [userId, seat] of room) out.push(toMember(userId, seat));
    return out;
  }
}
