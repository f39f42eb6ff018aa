import { Logger } from '@nestjs/common';
import { errorMessage } from '../../kernel/error-message.js';
import { parsePosition, type LogHead, type LoggedMessage } from '../ports/room-log.port.js';
import type { LocalRoom } from './local-room.js';

/** A logged message that came ahead of a gap, waiting for the gap to be read from the log. */
interface Pending {
  n: number;
  pos: string;
  frame: string;
  except: string | undefined;
}

/** A gap being read from the log, and what arrived meanwhile. */
export interface GapFill {
  readonly pending: Pending[];
}

/** What {@link LogOrder} works with: the local rooms, the log's read, and the fan-out. */
export interface LogOrderDeps {
  room(key: string): LocalRoom | undefined;
  /** Every logged message of the room after `after` (RoomLog.readAfter, nobody left out). */
  readAfter(roomKey: string, after: string): Promise<{ messages: LoggedMessage[] }>;
  /** Fans a logged message out to the room's connections here. */
  deliver(roomKey: string, frame: string, except: string | undefined, pos: string): void;
  /** Most messages a room holds while its gap is read; one more delivers them at once, the gap left. */
  maxPending: number;
}

/** Counters of the order, read at scrape time. */
export interface LogOrderStats {
  /** Gaps read from the log (a message came before one at a lower position). */
  gapsFilled: number;
  /** Messages delivered from such reads. */
  gapMessages: number;
  /** Messages at or below the room's delivered position, dropped (they were delivered already). */
  duplicatesDropped: number;
  /** Gaps left: the read failed, more than `maxPending` messages came while it ran, or the log no longer had them. */
  gapsGivenUp: number;
}

/**
 * Cluster mode: delivers each room's logged messages on this instance in log order, with no gap
 * and none twice, whichever way they came in.
 *
 * A room's messages reach an instance two ways: on the bus subscriber (the other instances'
 * messages, and its own while another instance shares the room), and, for its own while no other
 * instance has members, from the log script's reply on the command connection (see
 * LOG_PUBLISH_LUA). Nothing orders two sockets: around the moment another instance joins or
 * leaves a room, a later position can come first. And pub/sub is at most once: what is published
 * while the subscriber reconnects never arrives. Positions are consecutive within an epoch, so
 * the next one is known; the log has every message, so a gap is read from it instead of waited
 * for.
 *
 * Rules, per room (LocalRoom.delivered is the last position delivered here):
 * - the next position is delivered at once (the common case: one string parse per message);
 * - a position at or below the delivered one is dropped (it came both ways, or from the log first);
 * - a higher one starts a read of the log after the delivered position; messages that arrive
 *   meanwhile wait (at most `maxPending`), then the read's messages and theirs go out in order;
 * - if the read fails (Redis unreachable), more than `maxPending` wait, or the log no longer has
 *   the gap (truncated, or a new epoch), the waiting messages go out in order and the gap stays:
 *   the members then have what pub/sub alone would have given;
 * - a message of another epoch (the log was lost and recreated) is delivered as it comes, and a
 *   newer epoch becomes the room's;
 * - before the room's position is known (LocalRoom.delivered unset, the first join's head read
 *   under way), messages go out as they come: nobody is attached yet to be owed an order.
 */
export class LogOrder {
  private readonly logger = new Logger(LogOrder.name);
  readonly stats: LogOrderStats = { gapsFilled: 0, gapMessages: 0, duplicatesDropped: 0, gapsGivenUp: 0 };

  constructor(private readonly deps: LogOrderDeps) {}

  /** One logged message at `pos` for the room `roomKey`: delivered now, held behind a gap being read, or dropped. */
  offer(roomKey: string, frame: string, except: string | undefined, pos: string): void {
    const room = this.deps.room(roomKey);
    if (room === undefined) return;
    const p = parsePosition(pos);
    if (room.gapFill !== null && p !== undefined) {
      if (p.epoch === room.delivered!.epoch) {
        this.hold(room, room.gapFill, { n: p.n, pos, frame, except });
        return;
      }
      // Another epoch: the log the gap was in is gone; what waited goes out first.
      this.giveUp(room, room.gapFill);
    }
    this.place(room, p, { n: p?.n ?? 0, pos, frame, except });
  }

  private place(room: LocalRoom, p: LogHead | undefined, message: Pending): void {
    const at = room.delivered;
    if (p === undefined || at === undefined || p.epoch !== at.epoch) {
      if (p !== undefined && (at === undefined || Number(p.epoch) > Number(at.epoch))) room.delivered = { epoch: p.epoch, n: p.n };
      this.deps.deliver(room.key, message.frame, message.except, message.pos);
      return;
    }
    if (p.n <= at.n) {
      this.stats.duplicatesDropped++;
      return;
    }
    if (p.n === at.n + 1) {
      at.n = p.n;
      this.deps.deliver(room.key, message.frame, message.except, message.pos);
      return;
    }
    this.readGap(room, at, message);
  }

  private readGap(room: LocalRoom, at: LogHead, first: Pending): void {
    const fill: GapFill = { pending: [first] };
    room.gapFill = fill;
    this.stats.gapsFilled++;
    this.deps.readAfter(room.key, `${at.epoch}.${at.n}`).then(
      (read) => this.filled(room, fill, read.messages),
      (err: unknown) => {
        this.logger.warn(`room log unreadable, a gap of room messages stays: ${errorMessage(err)}`);
        this.giveUp(room, fill);
      },
    );
  }

  private hold(room: LocalRoom, fill: GapFill, message: Pending): void {
    fill.pending.push(message);
    if (fill.pending.length > this.deps.maxPending) this.giveUp(room, fill);
  }

  /**
   * The gap's messages from the log, then what waited, in order. The read ran after the lowest
   * waiting message was appended, so whatever below it the log no longer had (truncated, or an
   * epoch lost meanwhile) is gone: the gap stays there. A gap between waiting messages starts
   * another read (each read takes at least one waiting message out, so reads end).
   */
  private filled(room: LocalRoom, fill: GapFill, messages: LoggedMessage[]): void {
    if (!this.current(room, fill)) return;
    const at = room.delivered!;
    for (const m of messages) {
      const p = parsePosition(m.pos);
      if (p === undefined || p.epoch !== at.epoch || p.n <= at.n) continue;
      at.n = p.n;
      this.stats.gapMessages++;
      this.deps.deliver(room.key, m.frame, m.sender === '' ? undefined : m.sender, m.pos);
    }
    this.release(room, fill.pending);
  }

  /** The read failed or too many waited: what waited goes out in order, from its lowest position on. */
  private giveUp(room: LocalRoom, fill: GapFill): void {
    if (!this.current(room, fill)) return;
    this.release(room, fill.pending);
  }

  /** Ends `fill` if it is still the room's, and the room is still the registry's (not left and rejoined meanwhile). */
  private current(room: LocalRoom, fill: GapFill): boolean {
    if (room.gapFill !== fill) return false;
    room.gapFill = null;
    return this.deps.room(room.key) === room;
  }

  private release(room: LocalRoom, pending: Pending[]): void {
    pending.sort((a, b) => a.n - b.n);
    const at = room.delivered!;
    const lowest = pending[0]!.n;
    if (lowest - 1 > at.n) {
      this.stats.gapsGivenUp++;
      at.n = lowest - 1;
    }
    for (const m of pending) {
      if (room.gapFill !== null) room.gapFill.pending.push(m);
      else this.place(room, parsePosition(m.pos), m);
    }
  }
}
