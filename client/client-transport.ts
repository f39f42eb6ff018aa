import { CloseCode } from '../src/protocol/protocol.types.js';
import type { ConnectionAckFrame, ServerFrame } from '../src/protocol/protocol.types.js';
import { backoffDelay } from './backoff.js';
import type { ResolvedOptions } from './client-options.js';
import { startAttempt, type Attempt, type AttemptMode } from './connect-attempt.js';
import { Heartbeat } from './heartbeat.js';
import { detach, killSocket, OPEN, upgradeTarget, type UpgradeTarget } from './socket-helpers.js';
import { ConnectionManagerError, type ClientErrorEvent, type ConnectionState, type SessionInfo, type StateEvent, type WebSocketLike } from './types.js';
import { refusalErrorCode } from './upgrade-refusal.js';

type Timer = ReturnType<typeof setTimeout>;

/** What the transport tells the client about; the socket stands for the connection it came on. */
export interface TransportHost {
  /** A connection was acknowledged: bring the server in line with the app, before the state event. */
  onAck(ack: ConnectionAckFrame, socket: WebSocketLike): void;
  /** Any other frame on the current connection. */
  onFrame(frame: ServerFrame, socket: WebSocketLike): void;
  /** The current socket is gone and the client carries on (requests on it are settled here). */
  onSocketLost(socket: WebSocketLike): void;
  /** The rooms' last processed positions for a resume upgrade (encoded), or undefined for none. */
  resumePositions(): string | undefined;
  /** The client stops for good: reject what waits, drop what is queued. */
  onShutdown(closed: ConnectionManagerError): void;
  onState(event: StateEvent): void;
  onError(error: ClientErrorEvent): void;
}

/**
 * The connection state machine: opens sockets (fresh login with a JWT, or resume with the
 * reconnect token), waits for the `connection_ack`, watches the connection with the heartbeat,
 * and after a drop or a refusal decides what comes next: resume, log in afresh, wait (backoff,
 * Retry-After) or stop. At most one socket is current; events of older ones are ignored.
 */
export class ClientTransport {
  private stateValue: ConnectionState = 'connecting';
  private current: Attempt | undefined;
  private reconnectToken: string | undefined;
  private sessionInfo: SessionInfo | undefined;
  private everConnected = false;
  /** Consecutive failed attempts since the last ack (drives the backoff). */
  private failures = 0;
  private blindResumeFailures = 0;
  /** A resume carrying positions was refused with 400: resume without them until the next ack. */
  private positionsRefused = false;
  private retryTimer: Timer | undefined;
  private openWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private readonly heartbeat: Heartbeat;

  /** @param pingId a frame id for each heartbeat ping */
  constructor(
    private readonly options: ResolvedOptions,
    private readonly host: TransportHost,
    private readonly pingId: () => string,
  ) {
    this.heartbeat = new Heartbeat(options.heartbeat);
  }

  /** Opens the first connection (on a timer, so the caller can subscribe to events first). */
  start(): void {
    this.schedule('fresh', 0);
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  /** True while a connection is acknowledged and open. */
  get isOpen(): boolean {
    const a = this.current;
    return a !== undefined && a.acked && a.socket.readyState === OPEN;
  }

  /** The socket to write to, while {@link isOpen}. */
  get openSocket(): WebSocketLike | undefined {
    return this.isOpen ? this.current!.socket : undefined;
  }

  get session(): SessionInfo | undefined {
    return this.sessionInfo;
  }

  /** Whether `socket` is still the current connection's (it was not replaced or dropped since). */
  isCurrent(socket: WebSocketLike): boolean {
    return this.current?.socket === socket;
  }

  whenOpen(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    if (this.isClosed) return Promise.reject(new ConnectionManagerError('CLOSED', 'the client is closed'));
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  // ------------------------------------------------------------------ connecting

  private schedule(mode: AttemptMode, delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // open() reports its own failures; anything else it throws is reported here and retried,
      // never left as an unhandled rejection (which would end a Node app).
      this.open(mode).catch((err: unknown) => {
        if (this.isClosed) return;
        this.host.onError({ code: 'CONNECT_FAILED', message: `connect attempt failed: ${(err as Error | undefined)?.message ?? String(err)}` });
        this.schedule(mode, this.nextBackoff());
      });
    }, delayMs);
  }

  private nextBackoff(): number {
    return backoffDelay(this.failures++, this.options.backoff);
  }

  private async open(mode: AttemptMode): Promise<void> {
    if (this.isClosed) return;
    const { url: base, credentialsIn } = this.options;
    let target: UpgradeTarget;
    let positions: string | undefined;
    if (mode === 'resume' && this.reconnectToken !== undefined) {
      positions = this.positionsRefused ? undefined : this.host.resumePositions();
      target = upgradeTarget(base, { reconnectToken: this.reconnectToken }, credentialsIn, positions);
    } else {
      mode = 'fresh';
      let token: string | null;
      try {
        token = await this.options.token();
      } catch (err) {
        if (this.isClosed) return;
        this.host.onError({ code: 'TOKEN_UNAVAILABLE', message: (err as Error).message });
        this.schedule('fresh', this.nextBackoff());
        return;
      }
      if (this.isClosed) return;
      if (token === null) {
        this.shutdown({ code: 'TOKEN_UNAVAILABLE', message: 'getToken() gave no token: signed out' });
        return;
      }
      target = upgradeTarget(base, { token }, credentialsIn);
    }
    let socket: WebSocketLike;
    try {
      socket = target.protocols ? new this.options.WebSocket(target.url, target.protocols) : new this.options.WebSocket(target.url);
    } catch (err) {
      this.host.onError({ code: 'CONNECT_FAILED', message: `could not open a WebSocket: ${(err as Error).message}` });
      this.schedule(mode, this.nextBackoff());
      return;
    }
    this.current = startAttempt(socket, mode, positions !== undefined, {
      open: (attempt) => {
        if (this.current !== attempt) return;
        attempt.opened = true;
        attempt.ackTimer = setTimeout(() => this.abandon(attempt, 'no connection_ack'), this.options.connectTimeoutMs);
      },
      message: (attempt, data) => {
        if (this.current === attempt) this.onMessage(attempt, data);
      },
      close: (attempt, code, reason) => {
        if (this.current === attempt) this.onClose(attempt, code, reason);
      },
    });
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
    this.heartbeat.stop();
    if (this.isClosed) return;
    this.host.onSocketLost(attempt.socket);

    if (attempt.acked) {
      if (code === CloseCode.IDENTITY_MISMATCH) {
        this.shutdown(
          { code: 'IDENTITY_MISMATCH', message: 'the server closed the connection: identity mismatch on reauth (4003)', closeCode: code },
          code,
          reason,
        );
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
      const errorCode = refusalErrorCode(refusal);
      this.host.onError({
        code: errorCode,
        message: `upgrade refused: HTTP ${refusal.status}${refusal.code ? ` ${refusal.code}` : ''}`,
        status: refusal.status,
        ...(refusal.retryAfterMs !== undefined ? { retryAfterMs: refusal.retryAfterMs } : {}),
        ...(refusal.quota !== undefined ? { quota: refusal.quota } : {}),
      });
      if (refusal.status === 401 && attempt.mode === 'resume') {
        // The reconnect token was refused (used, unknown, or its TTL ran out): log in afresh.
        this.reconnectToken = undefined;
        this.schedule('fresh', 0);
        return;
      }
      if (refusal.status === 400 && attempt.withPositions) {
        // The server could not read the positions (they are its own, so this should not happen):
        // resume without them at once; the rooms come back all the same, replayed from the
        // session's buffers as before positions existed.
        this.positionsRefused = true;
        this.schedule('resume', 0);
        return;
      }
      if (refusal.status === 403) {
        this.shutdown({ code: errorCode, message: 'upgrade refused: this origin is not allowed (403)', status: 403 });
        return;
      }
      const initialMs = this.options.backoff.initialMs;
      const wait = refusal.retryAfterMs !== undefined ? refusal.retryAfterMs + Math.round(Math.random() * Math.min(1000, initialMs)) : 0;
      this.schedule(attempt.mode, Math.max(this.nextBackoff(), wait));
      return;
    }
    let mode = attempt.mode;
    if (
      mode === 'resume' &&
      !attempt.opened &&
      !attempt.canSeeStatus &&
      !attempt.offline &&
      ++this.blindResumeFailures >= this.options.maxBlindResumeAttempts
    ) {
      // A browser cannot tell a refused token (401) from a server that is down: after a few
      // failed resumes (not counting those made while the browser knew it was offline), assume
      // the former and log in afresh.
      this.reconnectToken = undefined;
      mode = 'fresh';
    }
    this.host.onError({
      code: 'CONNECT_FAILED',
      message: attempt.opened ? `the connection closed before its ack (${code}${reason ? ` ${reason}` : ''})` : 'could not connect',
      closeCode: code,
    });
    this.schedule(mode, this.nextBackoff());
  }

  // ------------------------------------------------------------------ frames

  private onMessage(attempt: Attempt, data: unknown): void {
    this.heartbeat.received();
    if (typeof data !== 'string') return; // the protocol only has text frames
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    if (frame.type === 'connection_ack') this.onAck(attempt, frame);
    else this.host.onFrame(frame, attempt.socket);
  }

  private onAck(attempt: Attempt, ack: ConnectionAckFrame): void {
    clearTimeout(attempt.ackTimer);
    attempt.acked = true;
    this.reconnectToken = ack.reconnectToken;
    this.failures = 0;
    this.blindResumeFailures = 0;
    this.positionsRefused = false;
    this.sessionInfo = { sessionId: ack.sessionId, connectionId: ack.connectionId, userId: ack.userId, tenantId: ack.tenantId };
    const lostSession = !ack.resumed && this.everConnected;
    this.everConnected = true;

    this.host.onAck(ack, attempt.socket);

    this.heartbeat.start({
      isCurrent: () => this.current === attempt,
      isOpen: () => this.isOpen,
      sendPing: () => attempt.socket.send(JSON.stringify({ type: 'ping', id: this.pingId() })),
      onDead: () => this.abandon(attempt, 'heartbeat timeout'),
    });
    if (ack.resumed) this.setState('resumed', { missed: ack.missed ?? 'none' });
    else this.setState('connected', lostSession ? { missed: 'lost' } : {});
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.resolve();
  }

  // ------------------------------------------------------------------ state

  private setState(state: ConnectionState, extra: Omit<StateEvent, 'state' | 'previous'> = {}): void {
    const previous = this.stateValue;
    this.stateValue = state;
    this.host.onState({ state, previous, ...extra });
  }

  /** Stops for good: by `close()`, or because the server ended the session in a way a retry cannot mend. */
  shutdown(error?: ClientErrorEvent, closeCode?: number, reason?: string): void {
    if (this.isClosed) return;
    clearTimeout(this.retryTimer);
    this.heartbeat.stop();
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
    this.host.onShutdown(closed);
    if (error) this.host.onError(error);
    this.setState('closed', closeCode !== undefined ? { closeCode, reason: reason ?? '' } : {});
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.reject(closed);
  }
}
