/**
 * The part of a WebSocket the domain uses. `ws`'s WebSocket satisfies it; the domain never
 * imports `ws`, so services stay testable and the transport stays swappable.
 */
export interface SocketLike {
  /** 1 = OPEN in the WebSocket readyState numbering. */
  readonly readyState: number;
  /** Bytes queued in user space and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  send(data: string | Buffer, options?: { binary?: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  /** Sends a protocol-level ping (the heartbeat). */
  ping(): void;
}

export const SOCKET_OPEN = 1;

/** Send options for bytes that hold UTF-8 JSON: a text frame, not a binary one. */
export const TEXT_FRAME = Object.freeze({ binary: false });
