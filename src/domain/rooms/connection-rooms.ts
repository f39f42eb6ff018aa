import type { LocalRoom } from './local-room.js';

/** The list of every connection in no room: shared, never written (set and delete replace it). */
const NONE: LocalRoom[] = Object.freeze([]) as unknown as LocalRoom[];

/**
 * The rooms one connection is in, by canvasId: the part of a Map's API the domain uses, over a
 * plain array. A connection is in a handful of rooms (at most `maxRoomsPerConnection`, default
 * 50), so a linear scan costs less than hashing, and an array of one room is ~60 B smaller than
 * a Map (one of these per connection: docs/performance.md, memory per idle connection).
 */
export class ConnectionRooms {
  /**
   * {@link NONE} while empty; the first room makes a one-element array. Not `[]` + push: V8 gives
   * an empty array's first push room for 16 elements (~144 B), for the one room most
   * connections ever join.
   */
  private list: LocalRoom[] = NONE;

  get size(): number {
    return this.list.length;
  }

  get(canvasId: string): LocalRoom | undefined {
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i]!.canvasId === canvasId) return list[i];
    return undefined;
  }

  has(canvasId: string): boolean {
    return this.get(canvasId) !== undefined;
  }

  /** Records `room` under its canvasId (replacing a room of the same canvas). */
  set(room: LocalRoom): void {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.canvasId === room.canvasId) {
        list[i] = room;
        return;
      }
    }
    if (list.length === 0) this.list = [room];
    else list.push(room);
  }

  delete(canvasId: string): boolean {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.canvasId !== canvasId) continue;
      if (list.length === 1) this.list = NONE;
      else list.splice(i, 1);
      return true;
    }
    return false;
  }

  /** The canvasIds, in join order. */
  keys(): string[] {
    return this.list.map((r) => r.canvasId);
  }

  /** The rooms, in join order (a copy: safe to iterate while leaving). */
  values(): LocalRoom[] {
    return [...this.list];
  }
}
