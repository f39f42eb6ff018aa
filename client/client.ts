import { isValidCanvasId } from '../src/protocol/frame-parser.js';
import type { ConnectionAckFrame, ErrorFrame, PresenceMember, RoomJoinedFrame, ServerFrame } from '../src/protocol/protocol.types.js';
import { resolveOptions, type ResolvedOptions } from './client-options.js';
import { ClientTransport } from './client-transport.js';
import { Emitter } from './emitter.js';
import { Outbox } from './outbox.js';
import { PresenceCache } from './presence-cache.js';
import { ReauthHandler } from './reauth-handler.js';
import { RequestTracker, type NewRequest } from './request-tracker.js';
import { RoomPositions } from './room-positions.js';
import {
  ConnectionManagerError,
  type ClientErrorEvent,
  type ClientEvents,
  type ConnectOptions,
  type ConnectionState,
  type RoomJoined,
  type SessionInfo,
  type WebSocketLike,
} from './types.js';

/**
 * A connection to the Canvas Connection Manager that stays up: create it with {@link connect}.
 *
 * The app states what it wants (the rooms it joined, the messages it sends); the client keeps
 * the server in line with it across drops: it resumes the session with the reconnect token
 * (rooms, presence and missed messages come back), logs in afresh when the resume is refused and
 * rejoins the rooms, answers `reauth_required` with a new token, and detects dead connections
 * with app-level pings.
 *
 * This class is the app-facing side: what the app wants (rooms, messages) and the room frames.
 * The rest is internal, one concern a file: sockets, reconnects and the heartbeat
 * (client-transport.ts), request ids and timeouts (request-tracker.ts), the server's view of
 * rooms and members (presence-cache.ts), token refresh (reauth-handler.ts), and exactly-once
 * delivery: messages kept until acknowledged (outbox.ts), rooms' last processed positions for
 * the resume's replay (room-positions.ts).
 */
export class CanvasClient<TData = unknown> {
  private readonly emitter = new Emitter<ClientEvents<TData>>();
  private readonly options: ResolvedOptions;
  private readonly transport: ClientTransport;
  private readonly requests: RequestTracker;
  private readonly roomCache = new PresenceCache();
  /** Rooms the app wants to be in (joined or joining). */
  private readonly wanted = new Set<string>();
  private readonly outbox: Outbox<TData>;
  /** OUTBOX_FULL was reported on `error` and the outbox has not had room since (one event per episode). */
  private outboxFullReported = false;
  private readonly positions: RoomPositions;
  private readonly reauther: ReauthHandler;

  constructor(options: ConnectOptions) {
    this.options = resolveOptions(options);
    this.outbox = new Outbox(this.options.maxUnackedMessages, !this.options.unsafeDisableExactlyOnce.seq);
    this.positions = new RoomPositions(!this.options.unsafeDisableExactlyOnce.positions);
    this.requests = new RequestTracker(this.options.requestTimeoutMs, () => this.transport.openSocket);
    this.transport = new ClientTransport(
      this.options,
      {
        onAck: (ack, socket) => this.onAck(ack, socket),
        onFrame: (frame, socket) => this.onFrame(frame, socket),
        onSocketLost: (socket) => this.requests.socketLost(socket),
        resumePositions: () => this.positions.encoded(),
        onShutdown: (closed) => {
          this.requests.rejectAll(closed);
          this.outbox.rejectAll(closed);
          this.positions.clear();
        },
        onState: (event) => this.emitter.emit('state', event),
        onError: (error) => this.emitError(error),
      },
      () => this.requests.nextId('hb'),
    );
    this.reauther = new ReauthHandler({
      token: this.options.token,
      request: (frame) => this.request(frame),
      isCurrent: (socket) => this.transport.isCurrent(socket),
      backoff: this.options.backoff,
      onError: (error) => this.emitError(error),
    });
    this.transport.start();
  }

  // ------------------------------------------------------------------ public API

  get state(): ConnectionState {
    return this.transport.state;
  }

  private get isClosed(): boolean {
    return this.transport.isClosed;
  }

  /** True while a connection is acknowledged and open (`connected` or `resumed`). */
  get isOpen(): boolean {
    return this.transport.isOpen;
  }

  /** Who this client is, from the latest `connection_ack` (undefined before the first). */
  get session(): SessionInfo | undefined {
    return this.transport.session;
  }

  /** The rooms (canvasIds) the server says this connection is in. */
  get rooms(): string[] {
    return this.roomCache.rooms;
  }

  /** The current member list of a joined room (empty when not joined). */
  presence(canvasId: string): PresenceMember[] {
    return this.roomCache.members(canvasId);
  }

  on<K extends keyof ClientEvents<TData>>(event: K, handler: (payload: ClientEvents<TData>[K]) => void): () => void {
    return this.emitter.on(event, handler);
  }

  off<K extends keyof ClientEvents<TData>>(event: K, handler: (payload: ClientEvents<TData>[K]) => void): void {
    this.emitter.off(event, handler);
  }

  /** Resolves once the connection is acknowledged (at once if it is); rejects if the client closes first. */
  whenOpen(): Promise<void> {
    return this.transport.whenOpen();
  }

  /**
   * Joins a canvas room. Resolves on `room_joined`; rejects with a {@link ConnectionManagerError}
   * whose `code` is the server's (`FORBIDDEN`, `ROOM_FULL`, `TOO_MANY_ROOMS`, `RATE_LIMITED`,
   * `BAD_REQUEST`, …) or `TIMEOUT`.
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
      if (!this.roomCache.has(canvasId) && !this.requests.joinPending(canvasId)) this.wanted.delete(canvasId);
      throw err;
    }
  }

  /** Leaves a canvas room; resolves on `room_left` (rejects with `NOT_IN_ROOM` when not in it). */
  async leave(canvasId: string): Promise<void> {
    this.checkCanvasId(canvasId);
    this.wanted.delete(canvasId);
    this.positions.forget(canvasId);
    await this.request({ type: 'leave', canvasId });
  }

  /**
   * Sends `data` to every other connection in the room, exactly once: the message gets a `seq`
   * and stays in the outbox until the server's `ack`; after a drop it is resent on the resumed
   * session (the server drops what it already had). While disconnected it waits, and goes out
   * after the reconnect (after the rooms are back). Fire and forget is fine: the promise is
   * handled here, so ignoring it never causes an unhandled rejection.
   *
   * Resolves on the ack. Rejects with a {@link ConnectionManagerError}: the server's code when it
   * refused the message (`NOT_IN_ROOM`, `BAD_REQUEST`, `RATE_LIMITED`, `UNAVAILABLE`: not
   * delivered); `OUTBOX_FULL` at once when `maxUnackedMessages` await their ack; `NOT_DELIVERED`
   * when its session was lost (see the `unacknowledged` event); `CLOSED` on {@link close}.
   * Throws (no promise) on misuse: a closed client, a bad canvasId, undefined data.
   */
  send(canvasId: string, data: TData): Promise<void> {
    if (this.isClosed) throw new ConnectionManagerError('CLOSED', 'the client is closed');
    this.checkCanvasId(canvasId);
    if (data === undefined) throw new ConnectionManagerError('BAD_REQUEST', 'message data must not be undefined', canvasId);
    if (!this.outbox.isFull) this.outboxFullReported = false;
    else if (!this.outboxFullReported) {
      this.outboxFullReported = true;
      this.emitError({ code: 'OUTBOX_FULL', message: `${this.options.maxUnackedMessages} messages await their ack: new ones are refused`, canvasId });
    }
    const sent = this.outbox.add(canvasId, data, this.transport.openSocket);
    sent.catch(() => {});
    return sent;
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
    return this.reauther.reauth();
  }

  /** Closes the connection (1000) and stops reconnecting. Pending requests reject with `CLOSED`. */
  close(): void {
    this.transport.shutdown();
  }

  // ------------------------------------------------------------------ keeping the server in line

  /** A connection was acknowledged: its rooms are the server's word; then what the app asked for while away. */
  private onAck(ack: ConnectionAckFrame, socket: WebSocketLike): void {
    this.roomCache.reset(ack.rooms);
    this.positions.retain(ack.rooms);
    // Resumed: what the server had is settled, the rest is resent below. A lost session's messages
    // go back to the app, once the rooms are rejoined (so it may send them again), never resent silently.
    const unacknowledged = this.outbox.connected(ack);

    // Bring the server in line with what the app asked for, in the order it asked: requests
    // not yet sent on this connection, then rooms to rejoin, then the outbox in seq order, before
    // any new message (the server handles a connection's frames in order, so those find their rooms).
    // A leave of a room this connection is not in is done already, unless a join of that room
    // went out before it in this flush (join then leave while away): the server must see both,
    // or it keeps the connection in a room the app has left.
    const joining = new Set<string>();
    this.requests.flushUnsent(socket, (frame) => {
      if (frame.type === 'join') joining.add(frame.canvasId);
      if (frame.type !== 'leave' || this.roomCache.has(frame.canvasId) || joining.has(frame.canvasId)) return undefined;
      return { type: 'room_left', id: frame.id, roomId: `canvas:${frame.canvasId}`, canvasId: frame.canvasId };
    });
    for (const canvasId of this.wanted) {
      if (this.roomCache.has(canvasId) || this.requests.joinPending(canvasId)) continue;
      this.rejoin(canvasId);
    }
    this.outbox.flush(socket);
    if (unacknowledged.length > 0) this.emitter.emit('unacknowledged', { messages: unacknowledged });
  }

  /** A room the app is in but the new connection is not (a fresh login, or a join sent while away). */
  private rejoin(canvasId: string): void {
    this.request({ type: 'join', canvasId }).catch((err: ConnectionManagerError) => {
      if (err.code === 'CLOSED' || err.code === 'TIMEOUT' || err.code === 'CONNECTION_LOST') return; // tried again on the next connection
      this.wanted.delete(canvasId);
      this.roomCache.forget(canvasId);
      this.positions.forget(canvasId);
      this.emitError({ code: err.code, message: `could not rejoin ${canvasId}: ${err.message}`, canvasId });
    });
  }

  // ------------------------------------------------------------------ frames

  private onFrame(frame: ServerFrame, socket: WebSocketLike): void {
    switch (frame.type) {
      case 'room_joined':
        this.roomCache.joined(frame.canvasId);
        this.positions.record(frame.canvasId, frame.pos); // where this connection starts receiving
        this.requests.resolveById(frame.id, frame);
        return;
      case 'room_left':
        this.roomCache.forget(frame.canvasId);
        this.positions.forget(frame.canvasId);
        this.requests.resolveById(frame.id, frame);
        return;
      case 'presence_state':
      case 'presence_join':
      case 'presence_leave': {
        const change = this.roomCache.apply(frame);
        this.emitter.emit('presence', { canvasId: frame.canvasId, members: this.roomCache.members(frame.canvasId), change });
        return;
      }
      case 'message':
        this.emitter.emit('message', frame as ClientEvents<TData>['message']);
        // Processed only now that the app's handlers ran; not for a room left meanwhile (its position would outlive it).
        if (this.roomCache.has(frame.canvasId) && this.wanted.has(frame.canvasId)) this.positions.record(frame.canvasId, frame.pos);
        return;
      case 'ack':
        this.outbox.acked(frame.seq);
        return;
      case 'pong':
      case 'reauth_ok':
        this.requests.resolveById(frame.id, frame);
        return;
      case 'reauth_required':
        this.reauther.onReauthRequired(socket, frame).catch((err: unknown) => {
          this.emitError({ code: 'TOKEN_UNAVAILABLE', message: `reauth failed: ${(err as Error | undefined)?.message ?? String(err)}` });
        });
        return;
      case 'error':
        this.onErrorFrame(frame);
        return;
      default:
        return; // unknown frame types are ignored (protocol: future versions add them)
    }
  }

  private onErrorFrame(frame: ErrorFrame): void {
    if (this.requests.rejectById(frame.id, frame.code, frame.message)) return;
    if (frame.seq !== undefined) {
      // A message of ours was refused (not delivered): its promise says so, and so does `error`
      // (apps that fire and forget learned of a refused message there before seq existed).
      const canvasId = this.outbox.refused(frame.seq, frame.code, frame.message) ?? frame.canvasId;
      this.emitError({ code: frame.code, message: frame.message, ...(canvasId !== undefined ? { canvasId } : {}) });
      return;
    }
    if (frame.canvasId !== undefined) {
      // After a resumed ack: a room that filled up while we were away was not restored.
      if (this.requests.joinPending(frame.canvasId)) return; // our rejoin's own reply will tell
      this.wanted.delete(frame.canvasId);
      this.roomCache.forget(frame.canvasId);
    }
    this.emitError({ code: frame.code, message: frame.message, ...(frame.canvasId !== undefined ? { canvasId: frame.canvasId } : {}) });
  }

  // ------------------------------------------------------------------ helpers

  private request(frame: NewRequest): Promise<ServerFrame> {
    if (this.isClosed) return Promise.reject(new ConnectionManagerError('CLOSED', 'the client is closed'));
    return this.requests.request(frame);
  }

  private emitError(error: ClientErrorEvent): void {
    this.emitter.emit('error', error);
  }

  private checkCanvasId(canvasId: string): void {
    if (!isValidCanvasId(canvasId)) throw new ConnectionManagerError('BAD_REQUEST', 'canvasId must be 1-128 characters of [A-Za-z0-9._:-]');
  }
}
