import { isValidCanvasId } from '../src/protocol/frame-parser.js';
import { CloseCode } from '../src/protocol/protocol.types.js';
import type {
  ClientFrame,
  ConnectionAckFrame,
  ErrorFrame,
  PresenceMember,
  ReauthOkFrame,
  ReauthRequiredFrame,
  RoomJoinedFrame,
  ServerFrame,
} from '../src/protocol/protocol.types.js';
import { backoffDelay, parseRetryAfter, resolveBackoff, type ResolvedBackoff } from './backoff.js';
import { Emitter } from './emitter.js';
import {
  ConnectionManagerError,
  type ClientErrorCode,
  type ClientErrorEvent,
  type ClientEvents,
  type ConnectOptions,
  type ConnectionState,
  type RoomJoined,
  type SessionInfo,
  type StateEvent,
  type TokenProvider,
  type WebSocketConstructorLike,
  type WebSocketLike,
} from './types.js';

/** WebSocket readyState OPEN, the same in browsers and `ws`. */
const OPEN = 1;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_HEARTBEAT = { intervalMs: 20_000, timeoutMs: 10_000 };
/** Reauth attempts after one `reauth_required` (within its grace). */
const REAUTH_TRIES = 3;

type Timer = ReturnType<typeof setTimeout>;
type Mode = 'fresh' | 'resume';
type RequestFrame = Exclude<ClientFrame, { type: 'message' }>;
/** What a request frame looks like before the SDK gives it an id. */
type NewRequest = RequestFrame extends infer F ? (F extends RequestFrame ? Omit<F, 'id'> : never) : never;

/** A refused upgrade, as far as the WebSocket implementation lets us see it (Node's `ws` does). */
interface Refusal {
  status: number;
  code?: string;
  retryAfterMs?: number;
}

/** One connection attempt: a socket, what it was opened for and how far it got. */
interface Attempt {
  socket: WebSocketLike;
  mode: Mode;
  opened: boolean;
  acked: boolean;
  refusal?: Refusal;
  /** Whether this WebSocket implementation reports a refused upgrade's status (`ws`: yes; browsers: no). */
  canSeeStatus: boolean;
  /** The browser said it was offline when the attempt started (`navigator.onLine === false`). */
  offline: boolean;
  ackTimer?: Timer;
}

interface PendingRequest {
  id: string;
  frame: RequestFrame & { id: string };
  resolve: (frame: ServerFrame) => void;
  reject: (err: ConnectionManagerError) => void;
  timer: Timer;
  /** The socket it was written to; undefined while unsent (joins and leaves wait for the next connection). */
  sentOn?: WebSocketLike;
}

/**
 * A connection to the Canvas Connection Manager that stays up: create it with {@link connect}.
 *
 * The app states what it wants (the rooms it joined, the messages it sends); the client keeps
 * the server in line with it across drops: it resumes the session with the reconnect token
 * (rooms, presence and missed messages come back), logs in afresh when the resume is refused and
 * rejoins the rooms, answers `reauth_required` with a new token, and detects dead connections
 * with app-level pings.
 */
export class CanvasClient<TData = unknown> {
  private readonly emitter = new Emitter<ClientEvents<TData>>();
  private readonly url: string;
  private readonly getToken: TokenProvider;
  private readonly WebSocketCtor: WebSocketConstructorLike;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly heartbeat: { intervalMs: number; timeoutMs: number } | undefined;
  private readonly backoff: ResolvedBackoff;
  private readonly maxBlindResumeAttempts: number;
  private readonly maxQueuedMessages: number;

  private stateValue: ConnectionState = 'connecting';
  private current: Attempt | undefined;
  private reconnectToken: string | undefined;
  private sessionInfo: SessionInfo | undefined;
  private everConnected = false;
  /** Consecutive failed attempts since the last ack (drives the backoff). */
  private failures = 0;
  private blindResumeFailures = 0;
  private retryTimer: Timer | undefined;
  private seq = 0;

  /** Rooms the app wants to be in (joined or joining). */
  private readonly wanted = new Set<string>();
  /** Rooms the server says this connection is in. */
  private joinedRooms = new Set<string>();
  private readonly presenceByRoom = new Map<string, Map<string, PresenceMember>>();
  private readonly pending = new Map<string, PendingRequest>();
  /** Serialized `message` frames sent while disconnected. */
  private outbox: string[] = [];
  private openWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  private lastReceivedAt = 0;
  private idleTimer: Timer | undefined;
  private deadTimer: Timer | undefined;
  private reauthing: Promise<number> | undefined;

  constructor(options: ConnectOptions) {
    if (typeof options.url !== 'string' || options.url.length === 0) throw new TypeError('connect: url is required');
    if (typeof options.getToken !== 'function') throw new TypeError('connect: getToken is required');
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    if (!ctor) throw new TypeError('connect: no WebSocket constructor (on Node 20 pass `WebSocket` from the ws package)');
    this.url = options.url;
    this.getToken = options.getToken;
    this.WebSocketCtor = ctor;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.heartbeat = options.heartbeat === false ? undefined : { ...DEFAULT_HEARTBEAT, ...definedOnly(options.heartbeat ?? {}) };
    this.backoff = resolveBackoff(options.backoff);
    this.maxBlindResumeAttempts = options.maxBlindResumeAttempts ?? 5;
    this.maxQueuedMessages = options.maxQueuedMessages ?? 1000;
    this.schedule('fresh', 0);
  }

  // ------------------------------------------------------------------ public API

  get state(): ConnectionState {
    return this.stateValue;
  }

  private get isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  /** True while a connection is acknowledged and open (`connected` or `resumed`). */
  get isOpen(): boolean {
    const a = this.current;
    return a !== undefined && a.acked && a.socket.readyState === OPEN;
  }

  /** Who this client is, from the latest `connection_ack` (undefined before the first). */
  get session(): SessionInfo | undefined {
    return this.sessionInfo;
  }

  /** The rooms (canvasIds) the server says this connection is in. */
  get rooms(): string[] {
    return [...this.joinedRooms];
  }

  /** The current member list of a joined room (empty when not joined). */
  presence(canvasId: string): PresenceMember[] {
    return [...(this.presenceByRoom.get(canvasId)?.values() ?? [])].map((m) => ({ ...m }));
  }

  on<K extends keyof ClientEvents<TData>>(event: K, handler: (payload: ClientEvents<TData>[K]) => void): () => void {
    return this.emitter.on(event, handler);
  }

  off<K extends keyof ClientEvents<TData>>(event: K, handler: (payload: ClientEvents<TData>[K]) => void): void {
    this.emitter.off(event, handler);
  }

  /** Resolves once the connection is acknowledged (at once if it is); rejects if the client closes first. */
  whenOpen(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    if (this.isClosed) return Promise.reject(new ConnectionManagerError('CLOSED', 'the client is closed'));
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /**
   * Joins a canvas room. Resolves on `room_joined`; rejects with a {@link ConnectionManagerError}
   * whose `code` is the server's (`FORBIDDEN`, `ROOM_FULL`, `BAD_REQUEST`, …) or `TIMEOUT`.
   * Called while disconnected, the join is sent after the reconnect. The room is rejoined after
   * every fresh login until {@link leave}.
   */
  async join(canvasId: string): Promise<RoomJoined> {
    this.checkCanvasId(canvasId);
    this.wanted.add(canvasId);
    try {
      const frame = (await this.request({ type: 'join', canvasId })) as RoomJoinedFrame;
      return { roomId: frame.roomId, canvasId: frame.canvasId };
    } catch (err) {
      if (!this.joinedRooms.has(canvasId) && !this.joinPending(canvasId)) this.wanted.delete(canvasId);
      throw err;
    }
  }

  /** Leaves a canvas room; resolves on `room_left` (rejects with `NOT_IN_ROOM` when not in it). */
  async leave(canvasId: string): Promise<void> {
    this.checkCanvasId(canvasId);
    this.wanted.delete(canvasId);
    await this.request({ type: 'leave', canvasId });
  }

  /**
   * Sends `data` to every other connection in the room (no reply). While disconnected the
   * message is queued and sent after the reconnect (after the rooms are back).
   */
  send(canvasId: string, data: TData): void {
    if (this.isClosed) throw new ConnectionManagerError('CLOSED', 'the client is closed');
    this.checkCanvasId(canvasId);
    if (data === undefined) throw new ConnectionManagerError('BAD_REQUEST', 'message data must not be undefined', canvasId);
    const text = JSON.stringify({ type: 'message', canvasId, data });
    if (this.isOpen) {
      this.current!.socket.send(text);
      return;
    }
    this.outbox.push(text);
    if (this.outbox.length > this.maxQueuedMessages) {
      this.outbox.splice(0, this.outbox.length - this.maxQueuedMessages);
      this.emitError({ code: 'QUEUE_FULL', message: `offline queue over ${this.maxQueuedMessages} messages: the oldest were dropped` });
    }
  }

  /** An app-level round trip; resolves with the time it took in ms. */
  async ping(): Promise<number> {
    const start = Date.now();
    await this.request({ type: 'ping' });
    return Date.now() - start;
  }

  /**
   * Refreshes the connection's token now (proactive refresh): calls `getToken()` and sends
   * `reauth`. Resolves with the new expiry (epoch ms) from `reauth_ok`. The SDK calls it by
   * itself on `reauth_required`.
   */
  reauth(): Promise<number> {
    this.reauthing ??= (async () => {
      try {
        const token = await this.token();
        if (token === null) throw new ConnectionManagerError('TOKEN_UNAVAILABLE', 'getToken() gave no token');
        const ok = (await this.request({ type: 'reauth', token })) as ReauthOkFrame;
        return ok.expiresAt;
      } finally {
        this.reauthing = undefined;
      }
    })();
    return this.reauthing;
  }

  /** Closes the connection (1000) and stops reconnecting. Pending requests reject with `CLOSED`. */
  close(): void {
    this.shutdown();
  }

  // ------------------------------------------------------------------ connecting

  private schedule(mode: Mode, delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open(mode);
    }, delayMs);
  }

  private nextBackoff(): number {
    return backoffDelay(this.failures++, this.backoff);
  }

  private async open(mode: Mode): Promise<void> {
    if (this.isClosed) return;
    let url: string;
    if (mode === 'resume' && this.reconnectToken !== undefined) {
      url = withQuery(this.url, 'reconnectToken', this.reconnectToken);
    } else {
      mode = 'fresh';
      let token: string | null;
      try {
        token = await this.token();
      } catch (err) {
        if (this.isClosed) return;
        this.emitError({ code: 'TOKEN_UNAVAILABLE', message: (err as Error).message });
        this.schedule('fresh', this.nextBackoff());
        return;
      }
      if (this.isClosed) return;
      if (token === null) {
        this.shutdown({ code: 'TOKEN_UNAVAILABLE', message: 'getToken() gave no token: signed out' });
        return;
      }
      url = withQuery(this.url, 'token', token);
    }
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketCtor(url);
    } catch (err) {
      this.emitError({ code: 'CONNECT_FAILED', message: `could not open a WebSocket: ${(err as Error).message}` });
      this.schedule(mode, this.nextBackoff());
      return;
    }
    const offline = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
    const attempt: Attempt = { socket, mode, opened: false, acked: false, canSeeStatus: typeof socket.on === 'function', offline };
    this.current = attempt;
    socket.onopen = () => {
      if (this.current !== attempt) return;
      attempt.opened = true;
      attempt.ackTimer = setTimeout(() => this.abandon(attempt, 'no connection_ack'), this.connectTimeoutMs);
    };
    socket.onmessage = (event: { data: unknown }) => {
      if (this.current === attempt) this.onFrame(attempt, event.data);
    };
    socket.onclose = (event: { code?: number; reason?: string }) => {
      if (this.current === attempt) this.onClose(attempt, event.code ?? CloseCode.ABNORMAL, event.reason ?? '');
    };
    // Errors are followed by a close event, handled there. (A handler must exist: `ws` throws without one.)
    socket.onerror = () => {};
    // Node's `ws` lets us see a refused upgrade's status and Retry-After; browsers never do.
    socket.on?.('unexpected-response', (_req: unknown, res: IncomingLike) => this.onRefused(attempt, res));
  }

  /** `ws` only: records the status, Retry-After and error code of a refused upgrade, then ends the attempt. */
  private onRefused(attempt: Attempt, res: IncomingLike): void {
    const refusal: Refusal = { status: res.statusCode ?? 0, retryAfterMs: parseRetryAfter(res.headers?.['retry-after']) };
    attempt.refusal = refusal;
    let body = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      try {
        const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
        if (typeof code === 'string') refusal.code = code;
      } catch {
        // not JSON: the status is all we know
      }
      killSocket(attempt.socket);
    };
    const guard = setTimeout(finish, 2000);
    res.on('data', (chunk: unknown) => {
      if (body.length < 4096) body += String(chunk);
    });
    res.on('end', finish);
    res.on('error', finish);
  }

  /** Gives up on a socket that is not answering (no ack, or a dead connection) and carries on as if it had closed. */
  private abandon(attempt: Attempt, reason: string): void {
    if (this.current !== attempt) return;
    detach(attempt.socket);
    killSocket(attempt.socket);
    this.onClose(attempt, CloseCode.ABNORMAL, reason);
  }

  private onClose(attempt: Attempt, code: number, reason: string): void {
    this.current = undefined;
    detach(attempt.socket);
    clearTimeout(attempt.ackTimer);
    this.stopHeartbeat();
    if (this.isClosed) return;
    for (const req of [...this.pending.values()]) {
      if (req.sentOn !== attempt.socket) continue;
      if (req.frame.type === 'join' || req.frame.type === 'leave') req.sentOn = undefined; // sent again after the reconnect
      else this.settle(req, undefined, new ConnectionManagerError('CONNECTION_LOST', `the connection dropped before the reply to ${req.frame.type}`));
    }

    if (attempt.acked) {
      if (code === CloseCode.IDENTITY_MISMATCH) {
        this.shutdown({ code: 'IDENTITY_MISMATCH', message: 'the server closed the connection: identity mismatch on reauth (4003)', closeCode: code }, code, reason);
        return;
      }
      if (code === CloseCode.SESSION_TAKEN_OVER) {
        this.shutdown({ code: 'SESSION_TAKEN_OVER', message: 'another client resumed this session (4000)', closeCode: code }, code, reason);
        return;
      }
      this.setState('reconnecting', { closeCode: code, reason });
      if (code === CloseCode.TOKEN_EXPIRED) {
        // The session ended with the token: log in again with a new one, at once.
        this.reconnectToken = undefined;
        this.schedule('fresh', 0);
        return;
      }
      // 1012: the instance is restarting and said so; resume at once (elsewhere, behind a balancer).
      const delay = code === CloseCode.SERVICE_RESTART ? 0 : this.nextBackoff();
      this.schedule(this.reconnectToken !== undefined ? 'resume' : 'fresh', delay);
      return;
    }

    // The attempt failed before its connection_ack.
    const refusal = attempt.refusal;
    if (refusal) {
      const errorCode = (refusal.code ?? statusCode(refusal.status)) as ClientErrorCode;
      this.emitError({
        code: errorCode,
        message: `upgrade refused: HTTP ${refusal.status}${refusal.code ? ` ${refusal.code}` : ''}`,
        status: refusal.status,
        ...(refusal.retryAfterMs !== undefined ? { retryAfterMs: refusal.retryAfterMs } : {}),
      });
      if (refusal.status === 401 && attempt.mode === 'resume') {
        // The reconnect token was refused (used, unknown, or its TTL ran out): log in afresh.
        this.reconnectToken = undefined;
        this.schedule('fresh', 0);
        return;
      }
      if (refusal.status === 403) {
        this.shutdown({ code: errorCode, message: 'upgrade refused: this origin is not allowed (403)', status: 403 });
        return;
      }
      const wait = refusal.retryAfterMs !== undefined ? refusal.retryAfterMs + Math.round(Math.random() * Math.min(1000, this.backoff.initialMs)) : 0;
      this.schedule(attempt.mode, Math.max(this.nextBackoff(), wait));
      return;
    }
    let mode = attempt.mode;
    if (mode === 'resume' && !attempt.opened && !attempt.canSeeStatus && !attempt.offline && ++this.blindResumeFailures >= this.maxBlindResumeAttempts) {
      // A browser cannot tell a refused token (401) from a server that is down: after a few
      // failed resumes (not counting those made while the browser knew it was offline), assume
      // the former and log in afresh.
      this.reconnectToken = undefined;
      mode = 'fresh';
    }
    this.emitError({
      code: 'CONNECT_FAILED',
      message: attempt.opened ? `the connection closed before its ack (${code}${reason ? ` ${reason}` : ''})` : 'could not connect',
      closeCode: code,
    });
    this.schedule(mode, this.nextBackoff());
  }

  // ------------------------------------------------------------------ frames

  private onFrame(attempt: Attempt, data: unknown): void {
    this.lastReceivedAt = Date.now();
    if (typeof data !== 'string') return; // the protocol only has text frames
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    switch (frame.type) {
      case 'connection_ack':
        this.onAck(attempt, frame);
        return;
      case 'room_joined':
        this.joinedRooms.add(frame.canvasId);
        this.settleById(frame.id, frame);
        return;
      case 'room_left':
        this.forgetRoom(frame.canvasId);
        this.settleById(frame.id, frame);
        return;
      case 'presence_state': {
        const members = new Map<string, PresenceMember>();
        for (const m of frame.members) members.set(m.userId, m);
        this.presenceByRoom.set(frame.canvasId, members);
        this.emitPresence(frame.canvasId, { kind: 'state' });
        return;
      }
      case 'presence_join': {
        let members = this.presenceByRoom.get(frame.canvasId);
        if (!members) this.presenceByRoom.set(frame.canvasId, (members = new Map()));
        members.set(frame.member.userId, frame.member);
        this.emitPresence(frame.canvasId, { kind: 'join', member: { ...frame.member } });
        return;
      }
      case 'presence_leave':
        this.presenceByRoom.get(frame.canvasId)?.delete(frame.userId);
        this.emitPresence(frame.canvasId, { kind: 'leave', userId: frame.userId });
        return;
      case 'message':
        this.emitter.emit('message', frame as ClientEvents<TData>['message']);
        return;
      case 'pong':
      case 'reauth_ok':
        this.settleById(frame.id, frame);
        return;
      case 'reauth_required':
        void this.onReauthRequired(attempt, frame);
        return;
      case 'error':
        this.onErrorFrame(frame);
        return;
      default:
        return; // unknown frame types are ignored (protocol: future versions add them)
    }
  }

  private onAck(attempt: Attempt, ack: ConnectionAckFrame): void {
    clearTimeout(attempt.ackTimer);
    attempt.acked = true;
    this.reconnectToken = ack.reconnectToken;
    this.failures = 0;
    this.blindResumeFailures = 0;
    this.sessionInfo = { sessionId: ack.sessionId, connectionId: ack.connectionId, userId: ack.userId, tenantId: ack.tenantId };
    const lostSession = !ack.resumed && this.everConnected;
    this.everConnected = true;

    this.joinedRooms = new Set(ack.rooms);
    for (const canvasId of [...this.presenceByRoom.keys()]) if (!this.joinedRooms.has(canvasId)) this.presenceByRoom.delete(canvasId);

    // Bring the server in line with what the app asked for, in the order it asked: requests
    // not yet sent on this connection, then rooms to rejoin, then the queued messages (the
    // server handles a connection's frames in order, so those find their rooms).
    const socket = attempt.socket;
    for (const req of [...this.pending.values()]) {
      if (req.sentOn === socket) continue;
      if (req.frame.type === 'leave' && !this.joinedRooms.has(req.frame.canvasId)) {
        this.settle(req, { type: 'room_left', id: req.id, roomId: `canvas:${req.frame.canvasId}`, canvasId: req.frame.canvasId });
        continue;
      }
      socket.send(JSON.stringify(req.frame));
      req.sentOn = socket;
    }
    for (const canvasId of this.wanted) {
      if (this.joinedRooms.has(canvasId) || this.joinPending(canvasId)) continue;
      this.rejoin(canvasId);
    }
    const outbox = this.outbox;
    this.outbox = [];
    for (const text of outbox) socket.send(text);

    this.startHeartbeat(attempt);
    if (ack.resumed) this.setState('resumed', { missed: ack.missed ?? 'none' });
    else this.setState('connected', lostSession ? { missed: 'lost' } : {});
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** A room the app is in but the new connection is not (a fresh login, or a join sent while away). */
  private rejoin(canvasId: string): void {
    this.request({ type: 'join', canvasId }).catch((err: ConnectionManagerError) => {
      if (err.code === 'CLOSED' || err.code === 'TIMEOUT' || err.code === 'CONNECTION_LOST') return; // tried again on the next connection
      this.wanted.delete(canvasId);
      this.forgetRoom(canvasId);
      this.emitError({ code: err.code, message: `could not rejoin ${canvasId}: ${err.message}`, canvasId });
    });
  }

  private onErrorFrame(frame: ErrorFrame): void {
    if (frame.id !== undefined && this.pending.has(String(frame.id))) {
      const req = this.pending.get(String(frame.id))!;
      const canvasId = 'canvasId' in req.frame ? req.frame.canvasId : undefined;
      this.settle(req, undefined, new ConnectionManagerError(frame.code, frame.message, canvasId));
      return;
    }
    if (frame.canvasId !== undefined) {
      // After a resumed ack: a room that filled up while we were away was not restored.
      if (this.joinPending(frame.canvasId)) return; // our rejoin's own reply will tell
      this.wanted.delete(frame.canvasId);
      this.forgetRoom(frame.canvasId);
    }
    this.emitError({ code: frame.code, message: frame.message, ...(frame.canvasId !== undefined ? { canvasId: frame.canvasId } : {}) });
  }

  private async onReauthRequired(attempt: Attempt, frame: ReauthRequiredFrame): Promise<void> {
    const deadline = Date.now() + frame.graceMs;
    for (let i = 0; i < REAUTH_TRIES && this.current === attempt && Date.now() < deadline; i++) {
      try {
        await this.reauth();
        return;
      } catch (err) {
        const e = err as ConnectionManagerError;
        if (e.code === 'CLOSED' || e.code === 'CONNECTION_LOST') return;
        this.emitError({ code: e.code, message: `reauth failed: ${e.message}` });
        await new Promise((r) => setTimeout(r, backoffDelay(i, this.backoff)));
      }
    }
    // No luck: the server closes with 4001 when the grace ends, and the client logs in afresh.
  }

  // ------------------------------------------------------------------ requests

  private request(frame: NewRequest): Promise<ServerFrame> {
    if (this.isClosed) return Promise.reject(new ConnectionManagerError('CLOSED', 'the client is closed'));
    const id = `c${++this.seq}`;
    const full = { ...frame, id } as PendingRequest['frame'];
    return new Promise<ServerFrame>((resolve, reject) => {
      const canvasId = 'canvasId' in frame ? frame.canvasId : undefined;
      const req: PendingRequest = {
        id,
        frame: full,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.settle(req, undefined, new ConnectionManagerError('TIMEOUT', `no reply to ${frame.type} within ${this.requestTimeoutMs} ms`, canvasId));
        }, this.requestTimeoutMs),
      };
      this.pending.set(id, req);
      if (this.isOpen) {
        this.current!.socket.send(JSON.stringify(full));
        req.sentOn = this.current!.socket;
      }
    });
  }

  private settleById(id: unknown, frame: ServerFrame): void {
    if (id === undefined) return;
    const req = this.pending.get(String(id));
    if (req) this.settle(req, frame);
  }

  private settle(req: PendingRequest, frame: ServerFrame | undefined, error?: ConnectionManagerError): void {
    if (this.pending.get(req.id) !== req) return;
    this.pending.delete(req.id);
    clearTimeout(req.timer);
    if (error) req.reject(error);
    else req.resolve(frame!);
  }

  private joinPending(canvasId: string): boolean {
    for (const req of this.pending.values()) if (req.frame.type === 'join' && req.frame.canvasId === canvasId) return true;
    return false;
  }

  /** A token from the app: null when it has none (signed out); throws TOKEN_UNAVAILABLE when getToken() fails. */
  private async token(): Promise<string | null> {
    let token: string | null | undefined;
    try {
      token = await this.getToken();
    } catch (err) {
      throw new ConnectionManagerError('TOKEN_UNAVAILABLE', `getToken() failed: ${(err as Error)?.message ?? String(err)}`);
    }
    return typeof token === 'string' && token.length > 0 ? token : null;
  }

  // ------------------------------------------------------------------ heartbeat

  /** Sends an app-level ping after `intervalMs` without a frame; no frame within `timeoutMs` after it means dead. */
  private startHeartbeat(attempt: Attempt): void {
    if (!this.heartbeat) return;
    this.lastReceivedAt = Date.now();
    this.scheduleIdleCheck(attempt, this.heartbeat.intervalMs);
  }

  private scheduleIdleCheck(attempt: Attempt, delayMs: number): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.idleCheck(attempt), Math.max(0, delayMs));
  }

  private idleCheck(attempt: Attempt): void {
    const hb = this.heartbeat!;
    if (this.current !== attempt || !this.isOpen) return;
    const idle = Date.now() - this.lastReceivedAt;
    if (idle < hb.intervalMs) {
      this.scheduleIdleCheck(attempt, hb.intervalMs - idle);
      return;
    }
    const sentAt = Date.now();
    attempt.socket.send(JSON.stringify({ type: 'ping', id: `hb${++this.seq}` }));
    this.deadTimer = setTimeout(() => {
      if (this.current !== attempt) return;
      if (this.lastReceivedAt >= sentAt) this.scheduleIdleCheck(attempt, hb.intervalMs - (Date.now() - this.lastReceivedAt));
      else this.abandon(attempt, 'heartbeat timeout');
    }, hb.timeoutMs);
  }

  private stopHeartbeat(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.deadTimer);
    this.idleTimer = this.deadTimer = undefined;
  }

  // ------------------------------------------------------------------ state and events

  private setState(state: ConnectionState, extra: Omit<StateEvent, 'state' | 'previous'> = {}): void {
    const previous = this.stateValue;
    this.stateValue = state;
    this.emitter.emit('state', { state, previous, ...extra });
  }

  private emitPresence(canvasId: string, change: ClientEvents['presence']['change']): void {
    this.emitter.emit('presence', { canvasId, members: this.presence(canvasId), change });
  }

  private emitError(error: ClientErrorEvent): void {
    this.emitter.emit('error', error);
  }

  private forgetRoom(canvasId: string): void {
    this.joinedRooms.delete(canvasId);
    this.presenceByRoom.delete(canvasId);
  }

  private checkCanvasId(canvasId: string): void {
    if (!isValidCanvasId(canvasId)) throw new ConnectionManagerError('BAD_REQUEST', 'canvasId must be 1-128 characters of [A-Za-z0-9._:-]');
  }

  /** Stops for good: by `close()`, or because the server ended the session in a way a retry cannot mend. */
  private shutdown(error?: ClientErrorEvent, closeCode?: number, reason?: string): void {
    if (this.isClosed) return;
    clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    const attempt = this.current;
    this.current = undefined;
    if (attempt) {
      clearTimeout(attempt.ackTimer);
      detach(attempt.socket);
      try {
        attempt.socket.close(CloseCode.NORMAL);
      } catch {
        killSocket(attempt.socket);
      }
    }
    const closed = new ConnectionManagerError('CLOSED', 'the client is closed');
    for (const req of [...this.pending.values()]) this.settle(req, undefined, closed);
    this.outbox = [];
    if (error) this.emitError(error);
    this.setState('closed', closeCode !== undefined ? { closeCode, reason: reason ?? '' } : {});
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.reject(closed);
  }
}

/** The bits of Node's IncomingMessage that `ws` hands to 'unexpected-response'. */
interface IncomingLike {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** Stops a socket's events from reaching the client (keeps a no-op error handler: `ws` throws without one). */
function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = () => {};
}

/** Destroys a socket without waiting for a close handshake a dead peer will never answer. */
function killSocket(socket: WebSocketLike): void {
  try {
    if (typeof socket.terminate === 'function') socket.terminate();
    else socket.close();
  } catch {
    // already closed
  }
}

function withQuery(base: string, key: 'token' | 'reconnectToken', value: string): string {
  const url = new URL(base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  url.searchParams.delete('token');
  url.searchParams.delete('reconnectToken');
  url.searchParams.set(key, value);
  return url.toString();
}

function statusCode(status: number): string {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 503) return 'UNAVAILABLE';
  if (status === 403) return 'ORIGIN_NOT_ALLOWED';
  return 'CONNECT_FAILED';
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
