import { Inject, Injectable } from '@nestjs/common';
import { CONNECTION_MANAGER_OPTIONS } from '../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import type { SocketLike } from '../domain/ports/socket.port.js';
import type { WriteBatch } from '../domain/ports/write-batch.port.js';

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
