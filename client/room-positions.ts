import { CANVAS_ID_PATTERN } from '../src/protocol/frame-parser.js';
import { encodeResumePositions, MAX_ENCODED_POSITIONS_LENGTH, MAX_RESUME_POSITIONS, POSITION_PATTERN } from '../src/protocol/resume-positions.js';

/**
 * The receiving side of exactly-once: per room, the position (`pos`) of the last message the app
 * processed, or where the connection started receiving (`room_joined.pos`). A resume sends them
 * on the upgrade, and the server replays exactly the messages after them: nothing the app already
 * had comes again, nothing after it is skipped.
 *
 * A position is recorded only after the app's `message` handlers ran: a message delivered to the
 * socket but not yet processed when the connection died must come again.
 */
export class RoomPositions {
  private readonly byRoom = new Map<string, string>();

  /** @param enabled false only with the testing switch `unsafeDisableExactlyOnce.positions` */
  constructor(private readonly enabled: boolean) {}

  /**
   * Records `pos` as the room's last processed position. Positions are opaque, but one the server
   * would refuse on the upgrade (400, before the socket opens) is not kept: resending it would
   * fail every resume. A message without `pos` (delivered while the room log was unreachable)
   * cannot be replayed, so the room keeps its previous position.
   */
  record(canvasId: string, pos: unknown): void {
    if (typeof pos === 'string' && POSITION_PATTERN.test(pos)) this.byRoom.set(canvasId, pos);
  }

  get(canvasId: string): string | undefined {
    return this.byRoom.get(canvasId);
  }

  /** The app left the room, or the room was lost: its position means nothing to a later resume. */
  forget(canvasId: string): void {
    this.byRoom.delete(canvasId);
  }

  /** Keeps the positions of these rooms only (the rooms a connection_ack says the session is in; none after a fresh login). */
  retain(rooms: readonly string[]): void {
    const keep = new Set(rooms);
    for (const canvasId of [...this.byRoom.keys()]) if (!keep.has(canvasId)) this.byRoom.delete(canvasId);
  }

  clear(): void {
    this.byRoom.clear();
  }

  /**
   * The positions for a resume upgrade (`canvas.pos.<encoded>` or `positions=<encoded>`), or
   * undefined when there are none. Kept within the server's bounds (50 rooms, the encoded length),
   * since a refused upgrade would cost the resume itself: rooms beyond them resume without a
   * position, as before positions existed (the server's per-session replay buffer).
   */
  encoded(): string | undefined {
    if (!this.enabled) return undefined;
    const entries: Array<[string, string]> = [];
    for (const entry of this.byRoom) {
      if (entries.length === MAX_RESUME_POSITIONS) break;
      if (CANVAS_ID_PATTERN.test(entry[0])) entries.push(entry);
    }
    let encoded = encodeResumePositions(new Map(entries));
    while (entries.length > 0 && encoded.length > MAX_ENCODED_POSITIONS_LENGTH) {
      entries.pop();
      encoded = encodeResumePositions(new Map(entries));
    }
    return entries.length > 0 ? encoded : undefined;
  }
}
