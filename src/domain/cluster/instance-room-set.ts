import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InstanceRegistry } from '../ports/instance-registry.port.js';
import { errorMessage } from '../../kernel/error-message.js';

interface RoomSeats {
  /** Seats of this instance in the room: held, or being reserved (the store call is under way). */
  seats: number;
  /** The registry write that put the room in the instance's set (every reservation waits for it). */
  added: Promise<void>;
}

/**
 * Keeps the instance's room set in the {@link InstanceRegistry} (`cm:instance:<id>:rooms` on
 * Redis) equal to the rooms where this instance holds seats, so that a survivor purging it after
 * a crash, and its own recovery after an outage, walk exactly the rooms that can hold its seats
 * (before: every room it ever had, for ever).
 *
 * Two orders make it exact under concurrency:
 * - a room is in the set before any seat of this instance exists in the membership store:
 *   {@link acquire} resolves once the registry has recorded it, and RoomService takes the seat
 *   only then. A crash in between leaves a room in the set with no seat, never a seat that no
 *   purge would find.
 * - a room leaves the set only after its last seat here is released, and a join of the same room
 *   racing that removal is safe: the count covers seats being reserved too, so a join that
 *   starts before the count reaches 0 keeps the room; one that starts after re-adds it, and the
 *   registry applies the removal and the re-add in call order (one connection, FIFO).
 *
 * Without a registry (a single instance) it does nothing and costs nothing.
 */
@Injectable()
export class InstanceRoomSet {
  private readonly logger = new Logger(InstanceRoomSet.name);
  private readonly rooms = new Map<string, RoomSeats>();

  constructor(@Optional() @Inject(InstanceRegistry) private readonly registry?: InstanceRegistry) {}

  /**
   * Counts one seat of `roomKey` about to be reserved, and resolves once the room is in the
   * instance's set. Rejects when the registry cannot record it (back-end down): the caller must
   * then take no seat, and must {@link release} this one either way. Without a registry: undefined,
   * nothing to wait for (no promise: a join awaits only what it must).
   */
  acquire(roomKey: string): Promise<void> | undefined {
    const registry = this.registry;
    if (!registry) return undefined;
    let room = this.rooms.get(roomKey);
    if (!room) {
      room = { seats: 0, added: registry.addRoom(roomKey) };
      this.rooms.set(roomKey, room);
    }
    room.seats++;
    return room.added;
  }

  /**
   * Gives back one seat counted by {@link acquire} (released, refused, or never taken). The last
   * one removes the room from the set, unless `seatMayRemain`: the store could not confirm the
   * seat is gone (back-end down), so the room stays listed and the instance's recovery, which
   * re-syncs every listed room to its live members, drops both.
   */
  release(roomKey: string, opts: { seatMayRemain?: boolean } = {}): void {
    const registry = this.registry;
    const room = this.rooms.get(roomKey);
    if (!registry || !room) return;
    if (--room.seats > 0) return;
    this.rooms.delete(roomKey);
    if (opts.seatMayRemain) return;
    registry.removeRoom(roomKey).catch((err: unknown) => {
      // Listed but empty: harmless (recovery and purge walk it once and drop it).
      this.logger.warn(`could not drop room from the instance set: ${errorMessage(err)}`);
    });
  }

  /** Whether this instance holds (or is reserving) a seat in `roomKey`. */
  holds(roomKey: string): boolean {
    return this.rooms.has(roomKey);
  }

  /** Rooms with seats of this instance (held or being reserved). */
  keys(): IterableIterator<string> {
    return this.rooms.keys();
  }
}
