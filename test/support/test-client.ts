import WebSocket from 'ws';

export interface ServerFrame {
  type: string;
  [key: string]: any;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

/** An upgrade the server refused with an HTTP response. */
export interface Refusal {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/**
 * A real `ws` client with an inbox: frames are queued as they arrive and taken in order with
 * `next()`, so a test reads the server's frames exactly as the protocol orders them.
 */
export class TestClient {
  readonly frames: ServerFrame[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<CloseInfo>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { type: '__binary__' } : JSON.parse(data.toString()));
      this.wake();
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    void this.closed.then(() => this.wake());
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Sends a frame (objects are JSON-encoded, strings and Buffers sent as they are). */
  send(frame: object | string | Buffer, binary = false): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame), { binary });
  }

  /** The next frame (of `type`, when given: frames of other types before it are skipped and dropped). */
  async next(type?: string, timeoutMs = 3000): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.frames.length > 0) {
        const frame = this.frames.shift()!;
        if (type === undefined || frame.type === type) return frame;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${type ?? 'a frame'}`);
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${type ?? 'a frame'}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves to the frames that arrive within `ms` (and removes them from the inbox). */
  async drain(ms = 150): Promise<ServerFrame[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.splice(0);
  }

  /** Sends a request with `id` and waits for the reply echoing it. */
  async request(frame: Record<string, unknown>, timeoutMs = 3000): Promise<ServerFrame> {
    const id = frame.id ?? `r${Math.random().toString(36).slice(2)}`;
    this.send({ ...frame, id });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const idx = this.frames.findIndex((f) => f.id === id);
      if (idx >= 0) return this.frames.splice(idx, 1)[0];
      if (Date.now() > deadline) throw new Error(`no reply to ${String(id)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Joins a canvas; returns room_joined (presence_state stays in the inbox). */
  async join(canvasId: string): Promise<ServerFrame> {
    return this.request({ type: 'join', canvasId });
  }

  close(code?: number): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return this.closed;
  }
}
