import type { SocketLike } from './socket.port.js';

/**
 * Lets the transport merge the frames one socket gets within one event-loop turn into one
 * write. The broadcast path calls `hold(socket)` before each send; the implementation decides
 * when the held writes go out (the ws one: at the end of the current turn, `setImmediate`).
 * Without a provider, every send is its own write.
 *
 * Why: with many messages per turn (a busy room), each frame to each recipient was one
 * `writev` syscall, ~75 % of the server's CPU in the fan-out profile. Merged, a recipient
 * costs one syscall per turn whatever the number of frames (docs/performance.md).
 */
export interface WriteBatch {
  hold(socket: SocketLike): void;
  /**
   * Writes out what `socket` holds now (it stays held for the rest of the turn); a socket not
   * held is left alone. Used before a slow-consumer decision: held bytes are not late bytes.
   */
  flush(socket: SocketLike): void;
}

/** Injection token of {@link WriteBatch} (same name as the interface). */
export const WriteBatch = Symbol('WriteBatch');
