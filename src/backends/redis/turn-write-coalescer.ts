import { Redis } from 'ioredis';
import type { RedisClient } from './redis-connections.js';

interface Corkable {
  cork(): void;
  uncork(): void;
  destroyed: boolean;
}

/**
 * Coalesces the writes of one Redis connection per event-loop turn: its socket is corked at the
 * first command of a turn and uncorked at `setImmediate`, after every I/O callback of the turn
 * ran, so the room messages that arrived together go to Redis in one `writev` instead of one
 * `write` each. On a loopback socket each write also wakes redis-server, which costs the
 * writer more than the bytes. Unlike ioredis's auto-pipelining (a Pipeline object and promise
 * per command, flushed at the end of the same tick, see redis-connections.ts), this adds nothing
 * per command: replies and their order are ioredis's as always. A command is delayed by at most
 * the rest of the turn.
 *
 * A single Redis only: a Redis Cluster client routes each command to one of several node
 * sockets, and hold() is then a no-op. A stream that is gone or replaced (reconnect) is skipped:
 * ioredis's offline handling applies as without coalescing.
 */
export class TurnWriteCoalescer {
  private held: Corkable | null = null;
  private readonly release = (): void => {
    const stream = this.held;
    this.held = null;
    if (stream !== null && !stream.destroyed) stream.uncork();
  };

  constructor(private readonly client: RedisClient) {}

  /** Call right before issuing a command that may be coalesced with the turn's others. */
  hold(): void {
    if (this.held !== null || !(this.client instanceof Redis) || this.client.status !== 'ready') return;
    const stream = this.client.stream as unknown as Corkable | undefined;
    if (stream === undefined || stream.destroyed) return;
    stream.cork();
    this.held = stream;
    setImmediate(this.release);
  }
}
