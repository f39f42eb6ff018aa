/**
 * Room logs (issue 16): each room keeps a bounded log of its messages, and every room message
 * carries its position in it (`pos` = `<epoch>.<n>`, n increasing by one per message of the room).
 * A client resumes with the last position it processed per room and gets exactly what came after.
 *
 * The log is also where acknowledged idempotent publish is decided: a message with a `seq` is
 * appended only if its session has not had a `seq` at least as high accepted in the room; a
 * resend is reported as such, not appended. Deciding it where the message is appended (one Redis
 * script in cluster mode) keeps it exact across instances, crashes and in-flight resends.
 *
 * In memory (one instance) the log is in the process; in cluster mode it is in Redis and
 * survives the instance that wrote it. The epoch changes when a log is lost (a Redis restart, a
 * log dropped after `ROOM_LOG_IDLE_TTL_MS` without messages): positions of another epoch are
 * answered with `truncated`.
 */

/** What a message is appended with. */
export interface LogAppend {
  roomKey: string;
  /** The sender's session id: kept with the entry so a replay never gives a session its own messages. */
  sender: string | undefined;
  /** The message's `seq`, if it had one (positive safe integer). */
  seq: number | undefined;
  /**
   * The frame without its opening: everything after `{"type":"message","pos":"<pos>",`. The log
   * writes the position in, so the frame is serialized once and the position is the log's.
   */
  frameTail: string;
}

/** One message of a log as a replay gives it. */
export interface LoggedMessage {
  /** Its position's number within the epoch. */
  n: number;
  /** `<epoch>.<n>`. */
  pos: string;
  /** The complete frame, `pos` included. */
  frame: string;
  /** The sender's session id ('' for a message without one); set by the shipped logs (a replay that fills a gap excludes by it). */
  sender?: string;
}

/**
 * The outcome of an append: the message's position and frame, or a resend that was not appended.
 * `deliverHere` (a log that {@link RoomLog.deliversItself} only): true when the log delivered the
 * message to no instance's bus this one reads (no other instance had members of the room, so the
 * Redis script did not publish it), and the caller delivers it here, in log order (RoomDelivery).
 * Absent means false: the bus brings it.
 */
export type LogAppendResult = { appended: true; pos: string; n: number; frame: string; deliverHere?: boolean } | { appended: false; duplicate: true };

/** What came after a position: in order, the reader's own messages left out; `truncated` when part of it is gone. */
export interface LogRead {
  messages: LoggedMessage[];
  truncated: boolean;
}

/** A log's current position: its epoch and the number of its last message (0 for none yet). */
export interface LogHead {
  epoch: string;
  n: number;
}

export interface RoomLog {
  /**
   * True when an append also delivers the message to every instance with members of the room, in
   * log order (cluster mode: the same Redis script publishes it on the room's bus), this one
   * included unless the result says `deliverHere`. False: the caller delivers it locally (one
   * process, log order is call order).
   */
  readonly deliversItself: boolean;
  /** Appends one message (or reports a resend). Synchronous in memory; rejects when the back-end is unreachable. */
  append(message: LogAppend): LogAppendResult | Promise<LogAppendResult>;
  /** The room's current head (creating its epoch if the room has no log yet). */
  head(roomKey: string): LogHead | Promise<LogHead>;
  /**
   * Messages after `after` (a position as clients send it), but those of `exceptSender` ('' leaves
   * none out: a session id is never empty); bounded by the log's bounds.
   */
  readAfter(roomKey: string, after: string, exceptSender: string): Promise<LogRead>;
  /** The highest `seq` accepted from `sessionId` in any of `roomKeys` (0 for none). */
  lastSeq(sessionId: string, roomKeys: string[]): Promise<number>;
  /** Stops timers (module shutdown). */
  close(): void;
}

/** Injection token of the {@link RoomLog}. */
export const RoomLog = Symbol('RoomLog');

/** `<epoch>.<n>` → its parts; undefined when malformed. */
export function parsePosition(pos: string): LogHead | undefined {
  const dot = pos.indexOf('.');
  if (dot <= 0) return undefined;
  const n = Number(pos.slice(dot + 1));
  return Number.isSafeInteger(n) && n >= 0 ? { epoch: pos.slice(0, dot), n } : undefined;
}

/** Whether position `pos` is at or below `floor`: same epoch, number not above (a position of another epoch never is). */
export function atOrBelow(pos: string, floor: LogHead | undefined): boolean {
  if (floor === undefined) return false;
  const p = parsePosition(pos);
  return p !== undefined && p.epoch === floor.epoch && p.n <= floor.n;
}

/** The opening every logged frame starts with; the position follows, then `",` and the tail. */
export const LOGGED_FRAME_HEAD = '{"type":"message","pos":"';

/** The complete frame of a logged message. */
export function loggedFrame(pos: string, frameTail: string): string {
  return `${LOGGED_FRAME_HEAD}${pos}",${frameTail}`;
}
