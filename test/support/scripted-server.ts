import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * A stand-in for the Connection Manager that says exactly what a test tells it to: for SDK rules
 * that depend on what the server answers (a given `lastSeq`, a refused resume, an error naming a
 * `seq`), where the real server cannot be made to answer that on cue. It records every upgrade
 * (URL and offered subprotocols) and every frame the SDK writes, and selects `canvas.v1` as the
 * real server does.
 */
export class ScriptedServer {
  readonly upgrades: Array<{ url: string; protocols: string[] }> = [];
  readonly connections: ScriptedConnection[] = [];
  /** Refusals for the next upgrades, in order (HTTP status). */
  readonly refusals: number[] = [];
  private waiters: Array<() => void> = [];

  private constructor(private readonly wss: WebSocketServer) {
    wss.on('connection', (ws) => {
      this.connections.push(new ScriptedConnection(ws));
      this.wake();
    });
  }

  static async start(): Promise<ScriptedServer> {
    let server: ScriptedServer | undefined = undefined;
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      path: '/ws',
      handleProtocols: (protocols) => (protocols.has('canvas.v1') ? 'canvas.v1' : false),
      verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, status?: number, message?: string) => void) => {
        const header = info.req.headers['sec-websocket-protocol'];
        server!.upgrades.push({ url: info.req.url ?? '', protocols: header ? header.split(',').map((p) => p.trim()) : [] });
        const status = server!.refusals.shift();
        if (status !== undefined) done(false, status, 'refused by the script');
        else done(true);
        server!.wake();
      },
    });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    server = new ScriptedServer(wss);
    return server;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/ws`;
  }

  /** The `n`th connection (0-based) once it is open. */
  async connection(n: number, timeoutMs = 5000): Promise<ScriptedConnection> {
    await this.until(() => this.connections.length > n, `connection #${n}`, timeoutMs);
    return this.connections[n];
  }

  /** Resolves once `predicate` holds, checked on each upgrade and connection (no polling). */
  async until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    await waitOn(predicate, (w) => this.waiters.push(w), what, timeoutMs);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** One accepted connection: the frames the SDK wrote, and what the script answers. */
export class ScriptedConnection {
  readonly frames: any[] = [];
  private waiters: Array<() => void> = [];
  closed = false;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      this.wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** A connection_ack: a fresh session unless `resumed`. */
  ack(fields: { sessionId: string; resumed?: boolean; rooms?: string[]; lastSeq?: number; missed?: string; reconnectToken?: string }): void {
    const { sessionId, resumed = false, rooms = [], ...rest } = fields;
    this.send({
      type: 'connection_ack',
      connectionId: `conn-${Math.random().toString(36).slice(2)}`,
      sessionId,
      userId: 'alice',
      tenantId: 't1',
      reconnectToken: `rt${sessionId}${Math.random().toString(36).slice(2)}`,
      heartbeatIntervalMs: 30_000,
      resumed,
      rooms,
      ...rest,
    });
  }

  /** Answers every `join` so far not answered with room_joined (and the given position). */
  answerJoin(canvasId: string, pos: string): void {
    const join = this.frames.find((f) => f.type === 'join' && f.canvasId === canvasId);
    if (!join) throw new Error(`no join of ${canvasId} on this connection`);
    this.send({ type: 'room_joined', id: join.id, roomId: `canvas:${canvasId}`, canvasId, pos });
    this.send({ type: 'presence_state', roomId: `canvas:${canvasId}`, canvasId, members: [{ userId: 'alice', connections: 1 }] });
  }

  /** A room message from bob, at `pos` (omitted when undefined). */
  message(canvasId: string, data: unknown, pos?: string): void {
    this.send({
      type: 'message',
      ...(pos !== undefined ? { pos } : {}),
      roomId: `canvas:${canvasId}`,
      canvasId,
      from: { userId: 'bob', connectionId: 'b1' },
      data,
    });
  }

  /** The `message` frames the SDK wrote on this connection. */
  get messages(): any[] {
    return this.frames.filter((f) => f.type === 'message');
  }

  /** Resolves once `predicate` holds over what arrived, checked on each frame (no polling). */
  async until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    await waitOn(predicate, (w) => this.waiters.push(w), what, timeoutMs);
  }

  /** Resolves with the first frame of `type` that matches, once it has arrived. */
  async frame(type: string, match: (f: any) => boolean = () => true): Promise<any> {
    const find = (): any => this.frames.find((f) => f.type === type && match(f));
    await this.until(() => find() !== undefined, `a ${type} frame`);
    return find();
  }

  /** Destroys the TCP connection (the client sees 1006, as after a network failure). */
  drop(): void {
    this.ws.terminate();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function waitOn(predicate: () => boolean, register: (wake: () => void) => void, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    const check = (): void => {
      if (predicate()) {
        clearTimeout(timer);
        resolve();
      } else register(check);
    };
    check();
  });
}
