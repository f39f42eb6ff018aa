import { Inject, Injectable } from '@nestjs/common';
import { CONNECTION_MANAGER_OPTIONS } from '../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import * as wsPackage from 'ws';
import { TEXT_FRAME, type SocketLike } from '../domain/ports/socket.port.js';
import type { EncodedFrame, WriteBatch } from '../domain/ports/write-batch.port.js';

/** A text frame as ws would write it: FIN, opcode 1, unmasked (server to client), no compression. */
const TEXT_FRAME_OPTIONS = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

/** What {@link WsWriteBatch.encode} makes: the frame's bytes on the wire, and its payload for ws's own send. */
interface WsEncodedFrame {
  wire: Buffer;
  payload: Buffer;
}

/** The parts of a ws WebSocket the encoded write relies on (ws 8: `_socket`, `_sender`, `_extensions`). */
interface WsInternals {
  _socket?: { write(data: Buffer): boolean } | null;
  _sender?: { _state: number; _queue: unknown[] } | null;
  _extensions?: Record<string, unknown>;
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

/**
 * {@link WriteBatch} for `ws`: corks the TCP socket under each WebSocket that gets a broadcast
 * frame and uncorks all of them once, at the end of the current event-loop turn
 * (`setImmediate`, which runs right after the poll phase that delivered the client messages).
 * Node then writes everything the socket got meanwhile with one `writev`.
 *
 * What it relies on, beyond ws's public API: the WebSocket's `_socket` field (the net.Socket,
 * present in every ws release since 1.x). If it is missing or has no `cork`, the socket is
 * simply not held (plain writes). Order is kept: ws writes its frames to the same stream, in
 * call order, corked or not; ws's own cork/uncork pairs nest inside ours.
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
  private readonly held = new Set<Corkable>();
  private readonly flushAt: number;

  constructor(@Inject(CONNECTION_MANAGER_OPTIONS) options: ResolvedConnectionManagerOptions) {
    this.flushAt = Math.min(64 * 1024, Math.max(1024, Math.floor(options.maxBufferedBytes / 4)));
  }

  private readonly flushAll = (): void => {
    for (const socket of this.held) socket.uncork();
    this.held.clear();
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
    const ws = socket as unknown as WsInternals;
    const tcp = ws._socket;
    const sender = ws._sender;
    if (tcp && sender && sender._state === 0 && sender._queue.length === 0 && ws._extensions?.['permessage-deflate'] === undefined) tcp.write(frame.wire);
    else socket.send(frame.payload, TEXT_FRAME);
  }

  hold(socket: SocketLike): void {
    const tcp = (socket as { _socket?: Corkable | null })._socket;
    if (!tcp) return;
    if (this.held.has(tcp)) {
      if (tcp.writableLength >= this.flushAt) {
        tcp.uncork();
        tcp.cork();
      }
      return;
    }
    if (typeof tcp.cork !== 'function') return;
    tcp.cork();
    this.held.add(tcp);
    if (this.held.size === 1) setImmediate(this.flushAll);
  }

  flush(socket: SocketLike): void {
    const tcp = (socket as { _socket?: Corkable | null })._socket;
    if (!tcp || !this.held.has(tcp)) return;
    tcp.uncork();
    tcp.cork();
  }

  /** Sockets held until the end of this turn (tests). */
  get size(): number {
    return this.held.size;
  }
}
