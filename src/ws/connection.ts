import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DomainEventPublisher } from '../kernel/domain-events.publisher.js';
import type { IncomingMessage } from 'node:http';
import { CONNECTION_MANAGER_OPTIONS } from '../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import { AuthReauthenticatedEvent, ConnectionManagerEvent, ConnectionMessageEvent, type CloseCause } from '../kernel/connection-manager.events.js';
import { ConnectionLifecycleService } from '../domain/connections/connection-lifecycle.service.js';
import { SessionResumeService } from '../domain/connections/session-resume.service.js';
import { sameUser, type Identity } from '../domain/connections/identity.js';
import { TokenExpiryService } from '../domain/connections/token-expiry.service.js';
import { credentialDeadline } from '../domain/connections/credential-deadline.js';
import { AuthError } from '../domain/connections/auth-error.js';
import { JwtAuthenticator } from './auth.js';
import { ClientConnection } from '../domain/connections/client-connection.js';
import { ConnectionService } from '../domain/connections/connection.service.js';
import type { SocketLike } from '../domain/ports/socket.port.js';
import { WriteBatch } from '../domain/ports/write-batch.port.js';
import { RoomService } from '../domain/rooms/room.service.js';
import { SessionService } from '../domain/sessions/session.service.js';
import { parseClientFrame } from '../protocol/frame-parser.js';
import { peekRequestRefs } from '../protocol/request-id-peek.js';

const NO_REFS = { id: undefined, seq: undefined };
import { CloseCode, ErrorCode, type ClientFrame, type ErrorFrame, type MessageFrame, type RequestId } from '../protocol/protocol.types.js';
import { takeAdmittedUpgrade } from './admitted-upgrade.js';
import type { ManagedSocket } from './managed-socket.js';
import { errorMessage } from '../kernel/error-message.js';
import { AbuseCounters } from '../domain/connections/abuse-counters.js';
import { windowClock } from '../domain/connections/window-clock.js';

/** The `ws` events the handler listens to (typed loosely so the domain never imports ws). */
export interface WsSocket extends SocketLike {
  on(event: 'message', cb: (this: ManagedSocket, data: Buffer, isBinary: boolean) => void): void;
  on(event: 'pong', cb: (this: ManagedSocket) => void): void;
  on(event: 'close', cb: (this: ManagedSocket, code: number, reason: Buffer) => void): void;
  on(event: 'error', cb: (this: ManagedSocket, err: Error & { code?: string }) => void): void;
}

/** ws calls each listener with `this` = the socket, which carries its connection. */
interface SocketListeners {
  message: (this: ManagedSocket, data: Buffer, isBinary: boolean) => void;
  pong: (this: ManagedSocket) => void;
  error: (this: ManagedSocket, err: Error & { code?: string }) => void;
  close: (this: ManagedSocket, code: number, reason: Buffer) => void;
}

/**
 * Sustained excess is abuse: more than this many times `messageRateLimit` frames rate-limited
 * within `badFrameWindowMs` (the window of the other 1008 count) closes the connection with
 * 1008: 600 in 10 s with the defaults.
 */
const RATE_ABUSE_FACTOR = 10;

/**
 * Longest token a `reauth` may carry: 8 KiB (a JWT is a few hundred bytes, a few KiB with many
 * claims). Longer ones are refused with UNAUTHORIZED before any verification.
 */
export const MAX_REAUTH_TOKEN_BYTES = 8192;

/** Adds the request's `id` to a frame literal made for it (no copy: a spread per reply costs runtime map transitions). */
function withId<T extends object>(frame: T, id: RequestId | undefined): T & { id?: RequestId } {
  if (id !== undefined) (frame as T & { id?: RequestId }).id = id;
  return frame;
}

/**
 * The connection handler: one open socket from its ack to its cleanup. It parses and validates
 * frames, applies the per-connection limits, calls the services and replies. It holds no
 * room or presence logic of its own.
 *
 * Frames of one connection are handled in order: while an async one (join, leave) is pending,
 * later frames wait behind it, so a `message` right after a `join` always finds the room.
 */
@Injectable()
export class ConnectionHandler {
  private readonly logger = new Logger(ConnectionHandler.name);

  /**
   * The socket listeners, shared by every socket (`this` is the socket, which carries its
   * connection): per connection they cost four array slots, not four closures and a context.
   */
  private readonly listeners = ConnectionHandler.socketListeners(this);

  private static socketListeners(handler: ConnectionHandler): SocketListeners {
    return {
      message: function (this: ManagedSocket, data: Buffer, isBinary: boolean): void {
        const connection = this.connection;
        if (connection) handler.onFrame(connection, data, isBinary);
      },
      pong: function (this: ManagedSocket): void {
        const connection = this.connection;
        if (connection) connection.alive = true;
      },
      error: function (this: ManagedSocket, err: Error & { code?: string }): void {
        const connection = this.connection;
        if (connection) handler.onSocketError(connection, err);
      },
      close: function (this: ManagedSocket, code: number, reason: Buffer): void {
        const connection = this.connection;
        if (connection) handler.onClose(connection, code, reason.toString());
      },
    };
  }

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    private readonly connections: ConnectionService,
    private readonly rooms: RoomService,
    private readonly sessions: SessionService,
    private readonly lifecycle: ConnectionLifecycleService,
    private readonly resumer: SessionResumeService,
    private readonly expiry: TokenExpiryService,
    private readonly authenticator: JwtAuthenticator,
    private readonly events: DomainEventPublisher,
    @Optional() @Inject(WriteBatch) private readonly batch?: WriteBatch,
  ) {}

  /**
   * The server's `connection` listener (the adapter attaches it): {@link open}, and a setup that
   * throws closes the socket with 1011 instead of reaching the emitter (which would end the process).
   */
  takeOver(socket: WsSocket, req: IncomingMessage): void {
    try {
      this.open(socket, req);
    } catch (err) {
      this.logger.error(`connection setup failed: ${errorMessage(err)}`);
      socket.close(CloseCode.INTERNAL_ERROR, 'internal error');
    }
  }

  /** Takes over a socket that passed the upgrade checks. */
  open(socket: WsSocket, req: IncomingMessage): void {
    const accepted = takeAdmittedUpgrade(req);
    if (!accepted) {
      // Only reachable if the adapter was bypassed: never serve an unauthenticated socket.
      socket.close(CloseCode.INTERNAL_ERROR, 'not authenticated');
      return;
    }
    const sessionId = accepted.resume?.sessionId ?? this.sessions.newSessionId();
    const connection = new ClientConnection(accepted.connectionId, sessionId, accepted.identity, accepted.ip, socket, Date.now());
    connection.credentialDeadline = accepted.credentialDeadline;
    this.connections.register(connection);
    (socket as ManagedSocket).connection = connection;
    // The 101 is still in the corked socket (see the adapter): held to the end of the turn, it
    // leaves with the connection_ack in one write.
    this.batch?.hold(socket);
    const l = this.listeners;
    socket.on('message', l.message);
    socket.on('pong', l.pong);
    socket.on('error', l.error);
    socket.on('close', l.close);
    // Frames that arrive before the ack is out wait behind the setup in the connection's queue.
    this.enqueue(connection, () => (accepted.resume ? this.resumer.resume(connection, accepted.resume, accepted.positions) : this.lifecycle.start(connection)));
  }

  private onFrame(connection: ClientConnection, data: Buffer, isBinary: boolean): void {
    connection.alive = true;
    if (connection.closed) return;
    if (!this.withinRate(connection)) {
      this.rateLimited(connection, data, isBinary);
      return;
    }
    if (isBinary) {
      this.badFrame(connection, { message: 'binary frames are not accepted' });
      return;
    }
    const parsed = parseClientFrame(data.toString('utf8'));
    if (!parsed.ok) {
      this.badFrame(connection, parsed);
      return;
    }
    if (connection.pending) {
      this.enqueue(connection, () => this.dispatch(connection, parsed.frame));
      return;
    }
    const result = this.dispatch(connection, parsed.frame);
    if (result) this.enqueue(connection, () => result);
  }

  /**
   * Runs `work` after the connection's pending async frames: at once when nothing is pending
   * (the connection's setup, and most joins), else when the last pending one has finished. The
   * queue's tail never rejects (a failure is logged and the queue goes on), so no part of it can
   * become an unhandled rejection. A step that runs at once costs one promise, a queued one two
   * (the setup and each join used to cost four: part of issue 15's connect profile).
   */
  private enqueue(connection: ClientConnection, work: () => Promise<void> | void): void {
    let running: Promise<void> | void;
    if (connection.pending === null) {
      try {
        running = work();
      } catch (err) {
        this.frameFailed(err);
        return;
      }
      // Done synchronously: nothing for later frames to wait for.
      if (running === undefined) return;
    } else running = connection.pending.then(work);
    const settle = (): void => {
      if (connection.pending === tail) connection.pending = null;
    };
    const tail: Promise<void> = running.then(settle, (err: unknown) => {
      this.frameFailed(err);
      settle();
    });
    connection.pending = tail;
  }

  private frameFailed(err: unknown): void {
    this.logger.error(`frame handling failed: ${errorMessage(err)}`);
  }

  /** Handles one valid frame; returns a promise only for frames that need async work. */
  private dispatch(connection: ClientConnection, frame: ClientFrame): Promise<void> | void {
    if (connection.closed) return;
    switch (frame.type) {
      case 'message':
        return this.onMessage(connection, frame);
      case 'ping':
        connection.sendFrame(withId({ type: 'pong' }, frame.id));
        return;
      case 'join':
        return this.onJoin(connection, frame.canvasId, frame.id);
      case 'leave':
        return this.onLeave(connection, frame.canvasId, frame.id);
      case 'reauth':
        this.onReauth(connection, frame.token, frame.id);
        return;
    }
  }

  private onMessage(connection: ClientConnection, frame: MessageFrame): void {
    const { canvasId, data, id, seq } = frame;
    const room = connection.rooms.get(canvasId);
    if (!room) {
      // A message with seq is settled by its error: it was not accepted (the SDK drops it from its outbox).
      const error: ErrorFrame = { type: 'error', code: ErrorCode.NOT_IN_ROOM, message: 'join the canvas before sending to it' };
      if (id !== undefined) error.id = id;
      if (seq !== undefined) error.seq = seq;
      connection.sendFrame(error);
      return;
    }
    this.events.publish(
      ConnectionManagerEvent.ConnectionMessage,
      new ConnectionMessageEvent({
        connectionId: connection.id,
        sessionId: connection.sessionId,
        userId: connection.userId,
        tenantId: connection.tenantId,
        roomKey: room.key,
        roomId: room.wireId,
        canvasId,
        data,
        seq,
        requestId: id,
      }),
    );
  }

  private async onJoin(connection: ClientConnection, canvasId: string, id: RequestId | undefined): Promise<void> {
    // room_joined and presence_state (and the presence_join to the others) go out as one write
    // per socket when the join completes within this turn (in-memory stores).
    this.batch?.hold(connection.socket);
    try {
      const outcome = await this.rooms.join(connection, canvasId, {
        beforeEvents: (room, pos) => connection.sendFrame(withId({ type: 'room_joined', roomId: room.wireId, canvasId, pos }, id)),
      });
      if (!outcome.ok) this.sendError(connection, outcome.code, outcome.message, id);
    } catch (err) {
      // Never leave a request unanswered: an unexpected failure is reported as UNAVAILABLE.
      this.logger.error(`join failed: ${errorMessage(err)}`);
      this.sendError(connection, ErrorCode.UNAVAILABLE, 'join failed, retry later', id);
    }
  }

  private async onLeave(connection: ClientConnection, canvasId: string, id: RequestId | undefined): Promise<void> {
    const room = connection.rooms.get(canvasId);
    if (!room) {
      this.sendError(connection, ErrorCode.NOT_IN_ROOM, 'not in this canvas', id);
      return;
    }
    const wireId = room.wireId;
    // room_left goes out before the others hear presence_leave: the reply is about this connection.
    connection.sendFrame(withId({ type: 'room_left', roomId: wireId, canvasId }, id));
    await this.rooms.leave(connection, canvasId, 'leave');
  }

  /**
   * Reauth (any time, also before expiry): a token that fails verification (or is longer than
   * {@link MAX_REAUTH_TOKEN_BYTES}) gets UNAUTHORIZED, counts toward the 1008 bad-frame close, and
   * the grace keeps running; a valid token of another user or tenant gets UNAUTHORIZED, then
   * close 4003; a valid one replaces the identity and moves the expiry and the session's
   * credential deadline (persisted with the session, so a later resume starts from it).
   */
  private onReauth(connection: ClientConnection, token: string, id: RequestId | undefined): void {
    // A JWT is a few hundred bytes; a huge one is refused before the verifier spends time on it.
    if (Buffer.byteLength(token) > MAX_REAUTH_TOKEN_BYTES) {
      this.failedReauth(connection, 'token too long', id);
      return;
    }
    let identity: Identity;
    try {
      identity = this.authenticator.verify(token);
    } catch (err) {
      this.failedReauth(connection, err instanceof AuthError ? err.message : 'invalid token', id);
      return;
    }
    if (!sameUser(identity, connection.identity)) {
      this.sendError(connection, ErrorCode.UNAUTHORIZED, 'token names another user', id);
      this.connections.close(connection, { code: CloseCode.IDENTITY_MISMATCH, reason: 'identity mismatch', cause: 'identity_mismatch', resumable: false });
      return;
    }
    connection.identity = identity;
    connection.credentialDeadline = credentialDeadline(identity.expiresAt, this.options);
    this.expiry.schedule(connection);
    this.sessions.updateCredentials(connection);
    connection.sendFrame(withId({ type: 'reauth_ok', expiresAt: identity.expiresAt }, id));
    this.events.publish(ConnectionManagerEvent.AuthReauthenticated, new AuthReauthenticatedEvent({ ...connection.ref(), expiresAt: identity.expiresAt }));
  }

  /** Fixed one-second window; every client frame counts, valid or not. */
  private withinRate(connection: ClientConnection): boolean {
    const now = windowClock();
    if (now - connection.rateWindowStart >= 1000) {
      connection.rateWindowStart = now;
      connection.rateCount = 0;
      if (connection.abuse) connection.abuse.rateNoticeSent = false;
    }
    return ++connection.rateCount <= this.options.messageRateLimit;
  }

  /**
   * A frame over the rate is dropped unparsed. If it carries a valid top-level `id` or `seq`,
   * found by a cheap scan of its bytes (peekRequestRefs: no decode, no JSON.parse of the frame),
   * its RATE_LIMITED error echoes them, so a request made in a burst fails at once instead of
   * waiting for its timeout, and a message with `seq` is settled (not accepted) for its sender.
   * Frames with neither get one RATE_LIMITED per one-second window, not one each. More than 10 × `messageRateLimit` frames rate-limited within
   * `badFrameWindowMs` (10 s) is abuse: close 1008, not resumable (the connection would
   * otherwise cost a scan and a reply per frame for ever).
   */
  private rateLimited(connection: ClientConnection, data: Buffer, isBinary: boolean): void {
    if (!connection.isOpen) return;
    const abuse = (connection.abuse ??= new AbuseCounters());
    const now = windowClock();
    if (now - abuse.limitedWindowStart >= this.options.badFrameWindowMs) {
      abuse.limitedWindowStart = now;
      abuse.limitedCount = 0;
    }
    if (++abuse.limitedCount > RATE_ABUSE_FACTOR * this.options.messageRateLimit) {
      this.connections.close(connection, { code: CloseCode.POLICY_VIOLATION, reason: 'too many messages', cause: 'policy_violation', resumable: false });
      return;
    }
    const { id, seq } = isBinary ? NO_REFS : peekRequestRefs(data);
    if (id === undefined && seq === undefined) {
      if (abuse.rateNoticeSent) return;
      abuse.rateNoticeSent = true;
    }
    const error: ErrorFrame = { type: 'error', code: ErrorCode.RATE_LIMITED, message: 'too many messages, slow down' };
    if (id !== undefined) error.id = id;
    if (seq !== undefined) error.seq = seq;
    connection.sendFrame(error);
  }

  /** Answers BAD_REQUEST; past `badFrameLimit` invalid frames in the window, closes with 1008. */
  private badFrame(connection: ClientConnection, failure: { message: string; id?: RequestId; seq?: number }): void {
    // A message with a valid seq is settled by its error: it was not accepted.
    if (failure.seq === undefined) this.sendError(connection, ErrorCode.BAD_REQUEST, failure.message, failure.id);
    else connection.sendFrame({ ...withId({ type: 'error', code: ErrorCode.BAD_REQUEST, message: failure.message }, failure.id), seq: failure.seq });
    this.countBadFrame(connection);
  }

  /**
   * A reauth whose token does not verify (or is too long) is answered UNAUTHORIZED and counts as
   * an invalid frame: guessing tokens on an open connection costs a verification each, so it is
   * bounded like any other garbage (the 1008 close), not free.
   */
  private failedReauth(connection: ClientConnection, message: string, id: RequestId | undefined): void {
    this.sendError(connection, ErrorCode.UNAUTHORIZED, message, id);
    this.countBadFrame(connection);
  }

  /** One more invalid frame in the window; past `badFrameLimit` the connection is closed with 1008. */
  private countBadFrame(connection: ClientConnection): void {
    const abuse = (connection.abuse ??= new AbuseCounters());
    const now = windowClock();
    if (now - abuse.badWindowStart >= this.options.badFrameWindowMs) {
      abuse.badWindowStart = now;
      abuse.badCount = 0;
    }
    if (++abuse.badCount > this.options.badFrameLimit) {
      this.connections.close(connection, { code: CloseCode.POLICY_VIOLATION, reason: 'too many invalid frames', cause: 'policy_violation', resumable: false });
    }
  }

  private sendError(connection: ClientConnection, code: ErrorCode, message: string, id: RequestId | undefined): void {
    connection.sendFrame(withId({ type: 'error', code, message }, id));
  }

  private onSocketError(connection: ClientConnection, err: Error & { code?: string }): void {
    // ws closes the socket itself after these (1009 too big, 1007 bad UTF-8, 1002 protocol).
    const tooBig = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
    const cause: CloseCause = tooBig ? 'message_too_big' : 'policy_violation';
    connection.recordClose({
      cause,
      resumable: false,
      code: tooBig ? CloseCode.MESSAGE_TOO_BIG : err.code === 'WS_ERR_INVALID_UTF8' ? CloseCode.INVALID_PAYLOAD : 1002,
    });
    this.logger.debug?.(`socket error on ${connection.id}: ${err.code ?? err.name}`);
  }

  private onClose(connection: ClientConnection, code: number, reason: string): void {
    // finalize never rejects (it logs its own failures); the drain waits for it through idle().
    void this.lifecycle.finalize(connection, code, reason);
  }
}
