import { drawRandom } from '../../domain/values/entropy-pool.js';
import {
  loggedFrame,
  parsePosition,
  type LogAppend,
  type LogAppendResult,
  type LogHead,
  type LogRead,
  type LoggedMessage,
  type RoomLog,
} from '../../domain/ports/room-log.port.js';

/** Bounds of every room's log. */
export interface RoomLogBounds {
  /** Most messages kept per room (`resumeBufferMessages`, default 500); the oldest go first. */
  maxMessages: number;
  /** Most frame bytes kept per room (`resumeBufferBytes`, default 1 MiB). */
  maxBytes: number;
  /** A log without a message for this long is dropped (its next message starts a new epoch). */
  idleTtlMs: number;
  /** How long a session's highest accepted `seq` in a room is remembered after its last message there. */
  seqTtlMs: number;
}

interface Entry extends LoggedMessage {
  sender: string | undefined;
  bytes: number;
}

interface Log {
  epoch: string;
  /** Number of the last message (0: none yet). */
  n: number;
  entries: Entry[];
  /** Index of the oldest kept entry in `entries` (dropped ones are compacted away in batches). */
  start: number;
  bytes: number;
  /** sessionId → highest accepted seq and when. */
  seqs: Map<string, { seq: number; at: number }>;
  lastAppend: number;
}

/**
 * A fresh epoch: 8 random base36-ish characters (the position format allows [a-z0-9]{1,16}).
 * From the pooled CSPRNG: a new room's log is made on its first join, on the connect path.
 */
export function newEpoch(): string {
  return drawRandom(6, readUint48).toString(36).padStart(8, '0').slice(-8);
}

const readUint48 = (pool: Buffer, at: number): number => pool.readUIntBE(at, 6);

/**
 * The room logs of a single instance, in the process. Appends are synchronous, so log order is
 * the order of publish calls, which is also the local delivery order (the caller delivers).
 * Memory: bounded per room by messages and bytes; a room idle for `idleTtlMs` loses its log
 * (swept once a minute), so the number of logs follows the rooms in use.
 */
export class InMemoryRoomLog implements RoomLog {
  readonly deliversItself = false;
  private readonly logs = new Map<string, Log>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly bounds: RoomLogBounds) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), 60_000);
    this.sweeper.unref();
  }

  append(message: LogAppend): LogAppendResult {
    const log = this.logOf(message.roomKey);
    const now = Date.now();
    log.lastAppend = now;
    if (message.seq !== undefined && message.sender !== undefined) {
      const last = log.seqs.get(message.sender);
      if (last !== undefined && message.seq <= last.seq) return { appended: false, duplicate: true };
      log.seqs.set(message.sender, { seq: message.seq, at: now });
    }
    const n = ++log.n;
    const pos = `${log.epoch}.${n}`;
    const frame = loggedFrame(pos, message.frameTail);
    const bytes = Buffer.byteLength(frame);
    log.entries.push({ n, pos, frame, sender: message.sender, bytes });
    log.bytes += bytes;
    this.trim(log);
    return { appended: true, pos, n, frame };
  }

  head(roomKey: string): LogHead {
    const log = this.logOf(roomKey);
    // A join keeps a quiet room's log (and so its members' positions) alive.
    log.lastAppend = Date.now();
    return { epoch: log.epoch, n: log.n };
  }

  readAfter(roomKey: string, after: string, exceptSender: string): Promise<LogRead> {
    const log = this.logs.get(roomKey);
    const from = parsePosition(after);
    if (!log || !from || from.epoch !== log.epoch || from.n > log.n) return Promise.resolve({ messages: [], truncated: true });
    const oldest = log.start < log.entries.length ? log.entries[log.start]!.n : log.n + 1;
    const messages: LoggedMessage[] = [];
    for (let i = log.start + Math.max(0, from.n + 1 - oldest); i < log.entries.length; i++) {
      const e = log.entries[i]!;
      if (exceptSender === '' || e.sender !== exceptSender) messages.push({ n: e.n, pos: e.pos, frame: e.frame, sender: e.sender ?? '' });
    }
    return Promise.resolve({ messages, truncated: from.n + 1 < oldest });
  }

  lastSeq(sessionId: string, roomKeys: string[]): Promise<number> {
    let max = 0;
    for (const key of roomKeys) max = Math.max(max, this.logs.get(key)?.seqs.get(sessionId)?.seq ?? 0);
    return Promise.resolve(max);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** Nest calls it on shutdown (the provider is this instance). */
  onModuleDestroy(): void {
    this.close();
  }

  /** Drops idle logs and forgotten sessions' seqs (exposed for tests). */
  sweep(now: number): void {
    for (const [key, log] of this.logs) {
      if (now - log.lastAppend >= this.bounds.idleTtlMs) {
        this.logs.delete(key);
        continue;
      }
      for (const [session, last] of log.seqs) if (now - last.at >= this.bounds.seqTtlMs) log.seqs.delete(session);
    }
  }

  private logOf(roomKey: string): Log {
    let log = this.logs.get(roomKey);
    if (!log) {
      log = { epoch: newEpoch(), n: 0, entries: [], start: 0, bytes: 0, seqs: new Map(), lastAppend: Date.now() };
      this.logs.set(roomKey, log);
    }
    return log;
  }

  private trim(log: Log): void {
    const { maxMessages, maxBytes } = this.bounds;
    while (log.entries.length - log.start > maxMessages || (log.bytes > maxBytes && log.entries.length - log.start > 1)) {
      log.bytes -= log.entries[log.start]!.bytes;
      log.start++;
    }
    // Compact in batches: an array shift per message would be O(n) each.
    if (log.start > 64 && log.start * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.start);
      log.start = 0;
    }
  }
}
