/** One logged room message waiting for the positions before it. */
interface Waiting {
  n: number;
  pos: string;
  frame: string;
  except: string | undefined;
}

/** A room's state: the last position delivered here, and what came ahead of a gap. */
interface RoomOrder {
  epoch: string;
  n: number;
  /** Ascending by `n`, every one above `n + 1`. */
  waiting: Waiting[];
  timer: NodeJS.Timeout | null;
}

/** Where {@link LogOrderBuffer} hands each message, in log order. */
export type LoggedDelivery = (roomKey: string, frame: string, except: string | undefined, pos: string) => void;

/** Bounds of {@link LogOrderBuffer}. */
export interface LogOrderBufferOptions {
  /** How long messages wait for a missing position before they go without it. Default 500 ms. */
  gapWaitMs?: number;
  /** Most messages a room holds ahead of a gap; one more delivers them at once. Default 1,024. */
  maxWaiting?: number;
}

/**
 * Puts the logged messages of each room back in log order on this instance (cluster mode).
 *
 * A room's messages reach an instance on two Redis connections: the other instances' (and, while
 * it shares the room, its own) on the bus subscriber, its own while nobody else has members of
 * the room in the log script's reply on the command connection (RedisRoomLog). Nothing orders two
 * sockets, so around the moment another instance joins or leaves the room a later position can
 * come first; a script re-sent after NOSCRIPT can also answer late. Positions are consecutive
 * within an epoch, so each room delivers position n + 1 next: one ahead of it waits for the gap to
 * fill.
 *
 * Failure modes, written out:
 * - A position at or below the last one delivered is dropped: it was delivered already (during a
 *   resubscription the writer can get its own message on both connections), or it came after its
 *   gap's wait ran out.
 * - A gap that does not fill within `gapWaitMs` (the bus is at most once: a subscriber reconnect
 *   loses what was published meanwhile) is given up: the waiting messages are delivered, in order.
 *   The same when more than `maxWaiting` wait.
 * - The first message after a room is (re)subscribed sets its starting point, whatever its
 *   position: nothing is known to come before it.
 * - A message of a newer epoch (the log was lost and recreated) starts over from it; one of an
 *   older epoch is delivered as it comes.
 */
export class LogOrderBuffer {
  private readonly rooms = new Map<string, RoomOrder>();
  private readonly gapWaitMs: number;
  private readonly maxWaiting: number;

  constructor(
    private readonly deliver: LoggedDelivery,
    options: LogOrderBufferOptions = {},
  ) {
    this.gapWaitMs = options.gapWaitMs ?? 500;
    this.maxWaiting = options.maxWaiting ?? 1024;
  }

  /**
   * One logged message at position `<epoch>.<n>` (`pos`): delivered now if it is the next one,
   * held if it is ahead of a gap, dropped if it is at or below the last one delivered.
   */
  offer(roomKey: string, message: { epoch: string; n: number; pos: string; frame: string; except: string | undefined }): void {
    const room = this.rooms.get(roomKey);
    if (room === undefined) {
      this.rooms.set(roomKey, { epoch: message.epoch, n: message.n, waiting: [], timer: null });
      this.deliver(roomKey, message.frame, message.except, message.pos);
      return;
    }
    if (message.epoch !== room.epoch) {
      this.otherEpoch(roomKey, room, message);
      return;
    }
    if (message.n <= room.n) return;
    if (message.n === room.n + 1 && room.waiting.length === 0) {
      room.n = message.n;
      this.deliver(roomKey, message.frame, message.except, message.pos);
      return;
    }
    this.hold(room, message);
    this.deliverReady(roomKey, room);
    if (room.waiting.length > this.maxWaiting) this.giveUpGap(roomKey);
    else if (room.waiting.length > 0 && room.timer === null) room.timer = setTimeout(() => this.giveUpGap(roomKey), this.gapWaitMs).unref();
  }

  /** Forgets a room (its bus subscription starts or ends): what waited is not delivered. */
  forget(roomKey: string): void {
    const room = this.rooms.get(roomKey);
    if (room === undefined) return;
    if (room.timer !== null) clearTimeout(room.timer);
    this.rooms.delete(roomKey);
  }

  /** Rooms with a message waiting for a gap (tests and shutdown). */
  waitingRooms(): number {
    let count = 0;
    for (const room of this.rooms.values()) if (room.waiting.length > 0) count++;
    return count;
  }

  /** Stops every gap timer (module shutdown). */
  close(): void {
    for (const key of [...this.rooms.keys()]) this.forget(key);
  }

  private otherEpoch(roomKey: string, room: RoomOrder, message: Waiting & { epoch: string }): void {
    if (Number(message.epoch) < Number(room.epoch)) {
      this.deliver(roomKey, message.frame, message.except, message.pos);
      return;
    }
    this.giveUpGap(roomKey);
    room.epoch = message.epoch;
    room.n = message.n;
    this.deliver(roomKey, message.frame, message.except, message.pos);
  }

  private hold(room: RoomOrder, message: Waiting): void {
    const waiting = room.waiting;
    let i = waiting.length;
    while (i > 0 && waiting[i - 1]!.n > message.n) i--;
    if (i > 0 && waiting[i - 1]!.n === message.n) return;
    waiting.splice(i, 0, { n: message.n, pos: message.pos, frame: message.frame, except: message.except });
  }

  /** Delivers the waiting messages that now follow the last one delivered. */
  private deliverReady(roomKey: string, room: RoomOrder): void {
    const waiting = room.waiting;
    let i = 0;
    while (i < waiting.length && waiting[i]!.n <= room.n + 1) {
      const next = waiting[i++]!;
      if (next.n <= room.n) continue;
      room.n = next.n;
      this.deliver(roomKey, next.frame, next.except, next.pos);
    }
    if (i > 0) waiting.splice(0, i);
    if (waiting.length === 0 && room.timer !== null) {
      clearTimeout(room.timer);
      room.timer = null;
    }
  }

  /** The gap did not fill: what waits is delivered, in order, and the room goes on from its last. */
  private giveUpGap(roomKey: string): void {
    const room = this.rooms.get(roomKey);
    if (room === undefined) return;
    if (room.timer !== null) clearTimeout(room.timer);
    room.timer = null;
    const waiting = room.waiting.splice(0);
    for (const next of waiting) {
      room.n = next.n;
      this.deliver(roomKey, next.frame, next.except, next.pos);
    }
  }
}
