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
  /** Ids of the {@link settle} markers. */
  private markers = 0;
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

  /**
   * Resolves to the frames that arrive within `ms` (and removes them from the inbox). A fixed
   * wait: never use it to wait for a state (use {@link next}, {@link settle} or
   * {@link framesBefore}); it is only for measuring what a stretch of time brings.
   */
  async drain(ms = 150): Promise<ServerFrame[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.splice(0);
  }

  /**
   * A round-trip marker: sends a `ping` with a fresh id and waits for its `pong`. The server
   * handles one connection's frames in order (a ping waits behind a pending join or leave) and
   * writes to one socket in order, so once the pong is here every frame the server sent this
   * connection before it handled the ping is in the inbox. Resolves to those frames (removed
   * from the inbox, like {@link drain}); frames after the pong stay. `expect(await c.settle())
   * .toEqual([])` proves that nothing arrived, with no fixed wait.
   *
   * To prove that another connection's action sent nothing here, settle that connection first
   * (its pong proves the action was handled, and its synchronous fan-out written), then this one.
   */
  async settle(timeoutMs = 3000): Promise<ServerFrame[]> {
    const id = `settle-${++this.markers}`;
    this.send({ type: 'ping', id });
    return this.framesBefore('pong', (f) => f.id === id, timeoutMs);
  }

  /**
   * Like {@link settle}, with a marker below the protocol: a WebSocket ping control frame, which
   * `ws` on the server answers with a pong itself, in order with the replies it already wrote.
   * It is not a client frame, so the message rate does not count it (usable right after a burst
   * that used the connection's whole budget), but it does not wait behind a pending async frame
   * either: it marks the end of frames the server handles synchronously (ping, message, errors).
   */
  async settleBelowRate(timeoutMs = 3000): Promise<ServerFrame[]> {
    const payload = `marker-${++this.markers}`;
    await new Promise<void>((resolve, reject) => {
      const onPong = (data: Buffer): void => {
        if (data.toString() !== payload) return;
        clearTimeout(timer);
        this.ws.off('pong', onPong);
        resolve();
      };
      const timer = setTimeout(() => {
        this.ws.off('pong', onPong);
        reject(new Error('no pong to a control ping'));
      }, timeoutMs);
      this.ws.on('pong', onPong);
      this.ws.ping(payload);
    });
    return this.frames.splice(0);
  }

  /**
   * Waits for the next frame of `type` (and matching `match`, when given) and resolves to the
   * frames that arrived before it; all of them and the marker itself leave the inbox. With a
   * marker the server sends after the frame that must not come, `expect(await c.framesBefore(
   * 'message')).toEqual([])` proves it did not come.
   */
  async framesBefore(type: string, match: (frame: ServerFrame) => boolean = () => true, timeoutMs = 3000): Promise<ServerFrame[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const idx = this.frames.findIndex((f) => f.type === type && match(f));
      if (idx >= 0) {
        const before = this.frames.splice(0, idx + 1);
        before.pop();
        return before;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${type}`);
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${type}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
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
