import { TurnWriteCoalescer } from './turn-write-coalescer.js';
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
import type { RedisClient } from './redis-connections.js';
import { busMarkerChannel, roomKeys } from './redis-connections.js';
import { LOG_HEAD_LUA, LOG_PUBLISH_LUA, LOG_READ_LUA } from './room-log.lua.js';

/** Bounds and lifetimes of the Redis room logs. */
export interface RedisRoomLogOptions {
  redis: RedisClient;
  keyPrefix: string;
  instanceId: string;
  /** Most messages and bytes kept per room (`resumeBufferMessages`, `resumeBufferBytes`); also the away buffers' bounds. */
  maxMessages: number;
  maxBytes: number;
  /** Lifetime of an away session's buffer (`reconnectTokenTtlMs`). */
  awayTtlMs: number;
  /** A log without a message (or a join) for this long expires; its next message starts a new epoch. */
  logTtlMs: number;
  /** How long a session's highest accepted `seq` in a room is kept after its last message there. */
  seqTtlMs: number;
}

type Scripted = RedisClient & {
  cmLogPublish(...args: (string | number)[]): Promise<[0] | [1, number, string, 0 | 1]>;
  cmLogHead(k1: string, ttl: number): Promise<[string, string]>;
  cmLogRead(k1: string, k2: string, epoch: string, n: number): Promise<[number, string[]]>;
};

/**
 * The room logs of cluster mode, in Redis: they survive the instance that wrote them. An append
 * is one script ({@link LOG_PUBLISH_LUA}) that decides the `seq`, appends, publishes the frame on
 * the room's bus channel when another instance has members of the room (the RedisRoomBus
 * delivers it on every instance, this one included) and feeds the away sessions' buffers. When
 * no other instance has members, nothing is published: the result says `deliverHere` and the
 * caller delivers the message on this instance (RoomMessages, in log order through RoomDelivery).
 *
 * Failure mode: every method rejects while Redis is unreachable (commands are not queued: see
 * redis-connections.ts); RoomService then refuses `seq` messages with UNAVAILABLE and delivers the
 * others locally without a position. During a pause (Redis stopped but connected) commands wait.
 */
export class RedisRoomLog implements RoomLog {
  readonly deliversItself = true;
  private readonly redis: Scripted;
  private readonly writes: TurnWriteCoalescer;

  constructor(private readonly options: RedisRoomLogOptions) {
    options.redis.defineCommand('cmLogPublish', { numberOfKeys: 5, lua: LOG_PUBLISH_LUA });
    options.redis.defineCommand('cmLogHead', { numberOfKeys: 1, lua: LOG_HEAD_LUA });
    options.redis.defineCommand('cmLogRead', { numberOfKeys: 2, lua: LOG_READ_LUA });
    this.redis = options.redis as Scripted;
    this.writes = new TurnWriteCoalescer(options.redis);
  }

  async append(message: LogAppend): Promise<LogAppendResult> {
    const o = this.options;
    const tag = this.tag(message.roomKey);
    const sender = message.sender ?? '';
    const seqKey = message.seq !== undefined && sender !== '' ? `${tag}:seq:${sender}` : `${tag}:seq:`;
    const channel = roomKeys(o.keyPrefix, message.roomKey).channel;
    this.writes.hold();
    const result = await this.redis.cmLogPublish(
      `${tag}:logmeta`,
      `${tag}:log`,
      seqKey,
      `${tag}:away`,
      `${tag}:awaybytes`,
      `${tag}:missed:`,
      `${tag}:trunc:`,
      message.seq !== undefined && sender !== '' ? message.seq : '',
      message.frameTail,
      o.maxMessages,
      o.maxBytes,
      o.awayTtlMs,
      sender,
      channel,
      `${o.instanceId}\n${sender}\n`,
      o.seqTtlMs,
      o.logTtlMs,
      busMarkerChannel(channel, o.instanceId),
    );
    if (result[0] === 0) return { appended: false, duplicate: true };
    const [, n, epoch, onBus] = result;
    // On the bus, the frame and position travel there: the caller only needs to know it was appended.
    if (onBus === 1) return { appended: true, pos: '', n, frame: '' };
    const pos = `${epoch}.${n}`;
    return { appended: true, pos, n, frame: loggedFrame(pos, message.frameTail), deliverHere: true };
  }

  async head(roomKey: string): Promise<LogHead> {
    const [epoch, n] = await this.redis.cmLogHead(`${this.tag(roomKey)}:logmeta`, this.options.logTtlMs);
    return { epoch, n: Number(n) };
  }

  async readAfter(roomKey: string, after: string, exceptSender: string): Promise<LogRead> {
    const from = parsePosition(after);
    if (!from) return { messages: [], truncated: true };
    const tag = this.tag(roomKey);
    const [truncated, entries] = await this.redis.cmLogRead(`${tag}:logmeta`, `${tag}:log`, from.epoch, from.n);
    const messages: LoggedMessage[] = [];
    for (const entry of entries) {
      const a = entry.indexOf('|');
      const b = entry.indexOf('|', a + 1);
      const sender = entry.slice(a + 1, b);
      if (exceptSender !== '' && sender === exceptSender) continue;
      const n = Number(entry.slice(0, a));
      messages.push({ n, pos: `${from.epoch}.${n}`, frame: entry.slice(b + 1), sender });
    }
    return { messages, truncated: truncated === 1 };
  }

  async lastSeq(sessionId: string, keys: string[]): Promise<number> {
    // One GET per room (the rooms' keys are in different slots on a Cluster), in parallel.
    const values = await Promise.all(keys.map((key) => this.redis.get(`${this.tag(key)}:seq:${sessionId}`)));
    return values.reduce<number>((max, v) => Math.max(max, Number(v ?? 0)), 0);
  }

  close(): void {
    // The connections belong to the module (closed there).
  }

  private tag(roomKey: string): string {
    return `${this.options.keyPrefix}:{${roomKey}}`;
  }
}
