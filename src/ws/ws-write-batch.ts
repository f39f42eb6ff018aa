import { Inject, Injectable } from '@nestjs/common';
import { CONNECTION_MANAGER_OPTIONS } from '../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import * as wsPackage from 'ws';
import { TEXT_FRAME, type SocketLike } from '../domain/ports/socket.port.js';
import type { BatchMarked, BroadcastWrite, EncodedFrame, WriteBatch } from '../domain/ports/write-batch.port.js';

/** A text frame as ws would write it: FIN, opcode 1, unmasked (server to client), no compression. */
const TEXT_FRAME_OPTIONS = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

/** What {@link WsWriteBatch.encode} makes: the frame's bytes on the wire, and its payload for ws's own send. */
interface WsEncodedFrame {
  wire: Buffer;
  payload: Buffer;
}

/** The parts of a ws WebSocket the encoded write relies on (ws 8: `_socket`, `_sender`, `_extensions`, `_readyState`). */
interface WsInternals {
  _socket?: { write(data: Buffer): boolean; readonly writableLength: number } | null;
  _sender?: { _state: number; _queue: unknown[] } | null;
  _extensions?: Record<string, unknown>;
  /** What ws's `readyState` getter returns (1: OPEN). */
  _readyState?: number;
  /** {@link plainFrames}'s answer, kept on the socket (a declared field of ManagedWebSocket). */
  plainFrames?: boolean;
}

/**
 * Whether the socket's frames go uncompressed (no permessage-deflate). The extension is
 * negotiated in the upgrade and never changes once the socket is open, so the answer is kept on
 * the socket: a broadcast then reads one field of the WebSocket, which it reads anyway, instead of
 * ws's per-socket extensions object, one more heap object (and cache miss) per recipient.
 */
function plainFrames(ws: WsInternals): boolean {
  const known = ws.plainFrames;
  if (known !== undefined) return known;
  const plain = ws._extensions?.['permessage-deflate'] === undefined;
  if (ws._readyState === 1) ws.plainFrames = plain;
  return plain;
}

/**
 * The TCP stream an encoded frame may be written to directly: while ws's sender is idle (state
 * DEFAULT, empty queue: its own frames are then written synchronously too, so order is kept) and
 * without permessage-deflate (compression is per socket). Undefined otherwise: ws's `send` writes.
 */
function directStream(ws: WsInternals): NonNullable<WsInternals['_socket']> | undefined {
  const tcp = ws._socket;
  const sender = ws._sender;
  if (!tcp || !sender || sender._state !== 0 || sender._queue.length !== 0 || !plainFrames(ws)) return undefined;
  return tcp;
}

/** ws's `Sender.frame` (exported by ws, not declared by @types/ws). */
const frameOf = (wsPackage as unknown as { Sender: { frame: (this: void, data: Buffer, options: typeof TEXT_FRAME_OPTIONS) => Buffer[] } }).Sender.frame;

/** The TCP socket under a ws WebSocket (ws's `_socket`; null before/after the connection). */
interface Corkable {
  cork(): void;
  uncork(): void;
  /** Bytes in the stream's buffer: held ones and ones the kernel has not taken yet. */
  readonly writableLength: number;
}

/** Where a socket's batch state lives (a declared field of ManagedWebSocket: in-object, no lookup table). */
interface Marked {
  /** HELD while the socket is corked until the end of the turn, else 0 (a room keeps the turn-to-turn state, see broadcastWrite). */
  batchMark: number;
  _socket?: Corkable | null;
}
/** A socket's mark: the socket is corked now (in `held`, uncorked at the end of the turn). */
const HELD = 1;
/** A room's mark (see {@link WsWriteBatch.broadcastWrite}): the room had several broadcasts in its turn. */
const BUSY = 1;

/** Turns count up to this and start again at 1 (a room's stale mark is then at worst taken for a busy room once more). */
const MAX_TURN = 2 ** 28;

/**
 * {@link WriteBatch} for `ws`: merges what a socket gets within one event-loop turn into one
 * write by corking its TCP socket and uncorking every held socket once, at the end of the turn
 * (`setImmediate`, which runs right after the poll phase that delivered the client messages).
 * Node then writes everything the socket got meanwhile with one `writev`.
 *
 * Room messages cork only when it pays ({@link broadcastWrite}, decided once per broadcast for
 * the room): a room's first broadcast of a turn is written at once unless the room was busy in
 * the turn just before (several broadcasts then); a second broadcast in a turn corks its
 * recipients. So when traffic trickles (one message per turn, cursors at 5 Hz) nothing is corked,
 * nothing waits and nothing is marked per recipient (corking a socket for one frame costs ~6 % of
 * the delivery CPU), and in a busy room every recipient is corked from its first frame: one write
 * per turn whatever the number of frames. A socket in several quiet rooms may get one write per
 * room in a turn. {@link hold} corks at once:
 * a join's replies, which come together, and presence frames, which come in waves with the
 * joins and leaves (RoomDelivery.deliverBurst).
 *
 * What it relies on, beyond ws's public API: the WebSocket's `_socket` field (the net.Socket,
 * present in every ws release since 1.x), and for the encoded write `_sender` and
 * `_extensions`. If one is missing the socket is simply not held, or written by ws's own `send`;
 * {@link offer} also reads `_readyState`, and refuses a socket where it is not 1 (broadcasts then
 * take the domain's general path, which uses the public getters).
 * Order is kept: ws writes its frames to the same stream, in call order, corked or not; ws's own
 * cork/uncork pairs nest inside ours.
 *
 * Effects: latency grows by at most the rest of the current turn; `terminate()` of a held
 * socket drops its held frames like any unsent data. `bufferedAmount` includes held bytes (they
 * are in the stream's buffer), so a socket whose held bytes reach `flushAt` (a quarter of
 * `maxBufferedBytes`, at most 64 KiB) is written out at once and held again, and the outbound
 * bound (ConnectionService.admitSend) calls {@link flush} before it decides that a socket is
 * over `maxBufferedBytes`: a burst in one turn never looks like a slow consumer, and what is
 * held stays bounded.
 */
@Injectable()
export class WsWriteBatch implements WriteBatch {
  private readonly held: Marked[] = [];
  private readonly flushAt: number;
  private turn = 1;
  private scheduled = false;

  constructor(@Inject(CONNECTION_MANAGER_OPTIONS) options: ResolvedConnectionManagerOptions) {
    this.flushAt = Math.min(64 * 1024, Math.max(1024, Math.floor(options.maxBufferedBytes / 4)));
  }

  /** End of the turn: uncork every held socket, and start the next turn. */
  private readonly endTurn = (): void => {
    this.scheduled = false;
    const held = this.held;
    for (let i = 0; i < held.length; i++) {
      const socket = held[i]!;
      socket.batchMark &= ~HELD;
      socket._socket?.uncork();
    }
    held.length = 0;
    this.turn = this.turn >= MAX_TURN ? 1 : this.turn + 1;
  };

  /**
   * Builds the frame once (ws's own `Sender.frame`, header and payload merged into one buffer):
   * every recipient of a broadcast is then one `write` of the same bytes.
   */
  encode(payload: Buffer): EncodedFrame {
    const frame: WsEncodedFrame = { wire: Buffer.concat(frameOf(payload, TEXT_FRAME_OPTIONS)), payload };
    return frame as unknown as EncodedFrame;
  }

  /**
   * Writes the encoded frame to the socket's TCP stream: what ws's `send` would write, minus
   * building the header again. Only while ws's sender is idle (state DEFAULT, empty queue: its
   * frames are then written synchronously too, so order is kept) and without permessage-deflate
   * (compression is per socket); otherwise ws's own `send` writes it.
   */
  write(socket: SocketLike, encoded: EncodedFrame): void {
    const frame = encoded as unknown as WsEncodedFrame;
    const tcp = directStream(socket as unknown as WsInternals);
    if (tcp !== undefined) tcp.write(frame.wire);
    else socket.send(frame.payload, TEXT_FRAME);
  }

  /**
   * One call per recipient of a broadcast, reading ws's fields directly instead of its
   * `readyState` and `bufferedAmount` getters and ConnectionService.admitSend: open (`_readyState`
   * 1), ws's sender idle with an empty queue and no permessage-deflate (the conditions of
   * {@link write}'s direct path; `bufferedAmount` is then the TCP stream's `writableLength`, as
   * ws's sender holds nothing), and at most `maxBuffered` unsent. Otherwise false, nothing written.
   */
  offer(socket: SocketLike, encoded: EncodedFrame, maxBuffered: number, write: BroadcastWrite): boolean {
    const ws = socket as unknown as WsInternals;
    if (ws._readyState !== 1) return false;
    const tcp = directStream(ws);
    if (tcp === undefined || tcp.writableLength > maxBuffered) return false;
    // Not held: written now, or appended to what the socket already holds this turn (then its
    // flushAt check waits for the next held frame; at most one such frame per room per turn).
    if (write === 'held') this.hold(socket);
    tcp.write((encoded as unknown as WsEncodedFrame).wire);
    return true;
  }

  hold(socket: SocketLike): void {
    const marked = socket as unknown as Marked;
    if (!marked._socket) return;
    this.cork(marked);
  }

  broadcastWrite(room: BatchMarked): BroadcastWrite {
    const mark = room.batchMark;
    const turn = this.turn;
    if (mark >> 1 === turn) {
      // A further broadcast in this turn: a busy room, its recipients held from here on.
      room.batchMark = mark | BUSY;
      return 'held';
    }
    // First broadcast of the turn: held only if the room was busy in the turn just before.
    // The end of the turn is scheduled even when nothing is held: it is what advances `turn`,
    // without which this room's next broadcast, in a later turn, would read as a second one.
    room.batchMark = turn << 1;
    this.schedule();
    return (mark & BUSY) !== 0 && mark >> 1 === turn - 1 ? 'held' : 'now';
  }

  flush(socket: SocketLike): void {
    const marked = socket as unknown as Marked;
    const tcp = marked._socket;
    if (!tcp || (marked.batchMark & HELD) === 0) return;
    tcp.uncork();
    tcp.cork();
  }

  /** Corks a socket until the end of the turn (once per turn), or writes out what it holds past `flushAt`. */
  private cork(marked: Marked): void {
    const tcp = marked._socket!;
    if ((marked.batchMark & HELD) !== 0) {
      if (tcp.writableLength >= this.flushAt) {
        tcp.uncork();
        tcp.cork();
      }
      return;
    }
    if (typeof tcp.cork !== 'function') return;
    tcp.cork();
    marked.batchMark |= HELD;
    this.held.push(marked);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.endTurn);
  }

  /** Sockets held until the end of this turn (tests). */
  get size(): number {
    return this.held.length;
  }
}
