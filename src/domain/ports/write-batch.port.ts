import type { SocketLike } from './socket.port.js';

declare const encodedFrame: unique symbol;
/** A text frame encoded once by the transport, to be written to any number of sockets (opaque to the domain). */
export interface EncodedFrame {
  readonly [encodedFrame]: true;
}

/**
 * How the domain writes frames: encoded once, written to each socket, and merged per socket
 * within one event-loop turn. Without a provider, every frame is a plain `socket.send`.
 *
 * - `encode` + `write`: a broadcast's frame (its WebSocket header and payload) is built once and
 *   the same bytes go to every recipient, instead of a header built and written per recipient
 *   (ws's `send`: ~20 % of the busy-room fan-out profile, and two buffers per write).
 * - `hold`: the socket's writes of this turn are held and go out as one write at its end (the
 *   ws one: `setImmediate`). With many messages per turn, each frame to each recipient was one
 *   `writev` syscall, ~75 % of the fan-out profile. Merged, a recipient costs one syscall per
 *   turn whatever the number of frames (docs/performance.md).
 */
export interface WriteBatch {
  /** Encodes a UTF-8 JSON payload as one text frame. */
  encode(payload: Buffer): EncodedFrame;
  /** Writes an encoded frame to an open socket: the same bytes and order as `socket.send(payload)`. */
  write(socket: SocketLike, frame: EncodedFrame): void;
  /** Holds the socket's writes from now to the end of the turn (a reply of several frames, presence waves). */
  hold(socket: SocketLike): void;
  /**
   * How a room message's broadcast writes (called once per broadcast, with the room): the room's
   * first broadcast of a turn is written `now`, so a trickle (one message per turn) never waits; a
   * further broadcast in the same turn is `held`, so the rest of the turn's frames leave as one
   * more write per recipient; and a room busy in the turn just before (several broadcasts) is
   * `held` from its first broadcast: one write per recipient per turn.
   */
  broadcastWrite(room: BatchMarked): BroadcastWrite;
  /**
   * Writes out what `socket` holds now (it stays held for the rest of the turn); a socket not
   * held is left alone. Used before a slow-consumer decision: held bytes are not late bytes.
   */
  flush(socket: SocketLike): void;
  /**
   * The broadcast fast path, one call per recipient: {@link hold} when the broadcast is `held`
   * (see {@link broadcastWrite}), then {@link write}, but only when the transport can
   * tell at once that the socket is open, has at most `maxBuffered` bytes unsent and can take the
   * encoded bytes as they are. Returns false when it wrote nothing (closing socket, over the
   * budget, compression, a frame of the transport's own still queued): the caller then takes the
   * general path (ConnectionService.admitSend, which writes held bytes out before it decides that
   * a socket is a slow consumer). Never closes and never throws.
   */
  offer(socket: SocketLike, frame: EncodedFrame, maxBuffered: number, write: BroadcastWrite): boolean;
}

/** How a broadcast writes to each recipient: `held` to the end of the turn (see WriteBatch.hold), or `now`. */
export type BroadcastWrite = 'held' | 'now';

/** A room as {@link WriteBatch.broadcastWrite} sees it: a number the batch keeps there across turns (opaque to the domain). */
export interface BatchMarked {
  batchMark: number;
}

/** Injection token of {@link WriteBatch} (same name as the interface). */
export const WriteBatch = Symbol('WriteBatch');
