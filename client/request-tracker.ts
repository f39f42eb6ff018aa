import type { ClientFrame, RequestId, ServerFrame } from '../src/protocol/protocol.types.js';
import { ConnectionManagerError, type ClientErrorCode, type WebSocketLike } from './types.js';

type Timer = ReturnType<typeof setTimeout>;
/** Frames that get a reply: everything the client sends except room messages. */
export type RequestFrame = Exclude<ClientFrame, { type: 'message' }>;
/** What a request frame looks like before the tracker gives it an id. */
export type NewRequest = RequestFrame extends infer F ? (F extends RequestFrame ? Omit<F, 'id'> : never) : never;

/** A request waiting for its reply. */
export interface PendingRequest {
  id: string;
  frame: RequestFrame & { id: string };
  resolve: (frame: ServerFrame) => void;
  reject: (err: ConnectionManagerError) => void;
  timer: Timer;
  /** The socket it was written to; undefined while unsent (joins and leaves wait for the next connection). */
  sentOn?: WebSocketLike;
}

/**
 * Request correlation: gives each request an id, keeps its promise until the reply with that id
 * (or an error frame naming it) comes back, and rejects it with `TIMEOUT` after `timeoutMs`.
 *
 * A request made while no connection is open stays unsent until {@link flushUnsent}; the clock
 * runs all the same, so the app never waits longer than `timeoutMs` for an answer.
 */
export class RequestTracker {
  private readonly pending = new Map<string, PendingRequest>();
  /** One counter for request ids and heartbeat ping ids, so no two frames share an id. */
  private seq = 0;

  /**
   * @param timeoutMs how long a request waits for its reply
   * @param openSocket the socket to write to now, or undefined while no connection is acknowledged
   */
  constructor(
    private readonly timeoutMs: number,
    private readonly openSocket: () => WebSocketLike | undefined,
  ) {}

  /** A fresh frame id (`c1`, `hb2`, …). */
  nextId(prefix: string): string {
    return `${prefix}${++this.seq}`;
  }

  /** Sends `frame` with a new id if a connection is open (else later); resolves with the reply frame. */
  request(frame: NewRequest): Promise<ServerFrame> {
    const id = this.nextId('c');
    const full = { ...frame, id };
    return new Promise<ServerFrame>((resolve, reject) => {
      const canvasId = 'canvasId' in frame ? frame.canvasId : undefined;
      const req: PendingRequest = {
        id,
        frame: full,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.settle(req, undefined, new ConnectionManagerError('TIMEOUT', `no reply to ${frame.type} within ${this.timeoutMs} ms`, canvasId));
        }, this.timeoutMs),
      };
      this.pending.set(id, req);
      const socket = this.openSocket();
      if (socket) {
        socket.send(JSON.stringify(full));
        req.sentOn = socket;
      }
    });
  }

  /** Resolves the request with this id (if any is waiting) with its reply. */
  resolveById(id: RequestId | undefined, frame: ServerFrame): void {
    if (id === undefined) return;
    const req = this.pending.get(String(id));
    if (req) this.settle(req, frame);
  }

  /**
   * Rejects the request an error frame names, with the server's code (and the request's canvas).
   * False when no request of ours has that id.
   */
  rejectById(id: RequestId | undefined, code: ClientErrorCode, message: string): boolean {
    if (id === undefined) return false;
    const req = this.pending.get(String(id));
    if (!req) return false;
    const canvasId = 'canvasId' in req.frame ? req.frame.canvasId : undefined;
    this.settle(req, undefined, new ConnectionManagerError(code, message, canvasId));
    return true;
  }

  /** Whether a join of this room is waiting for its reply (sent or not). */
  joinPending(canvasId: string): boolean {
    for (const req of this.pending.values()) if (req.frame.type === 'join' && req.frame.canvasId === canvasId) return true;
    return false;
  }

  /**
   * The socket a request went out on has gone: joins and leaves become unsent again (they are
   * what the app wants the rooms to be, so they are sent on the next connection); pings and
   * reauths were about that connection and reject with `CONNECTION_LOST`.
   */
  socketLost(socket: WebSocketLike): void {
    for (const req of [...this.pending.values()]) {
      if (req.sentOn !== socket) continue;
      if (req.frame.type === 'join' || req.frame.type === 'leave')
        req.sentOn = undefined; // sent again after the reconnect
      else this.settle(req, undefined, new ConnectionManagerError('CONNECTION_LOST', `the connection dropped before the reply to ${req.frame.type}`));
    }
  }

  /**
   * Writes every request not yet sent on `socket` to it, in the order the app made them. A
   * request that `answerLocally` answers (a reply frame) is settled with that instead of being sent.
   */
  flushUnsent(socket: WebSocketLike, answerLocally: (frame: PendingRequest['frame']) => ServerFrame | undefined): void {
    for (const req of [...this.pending.values()]) {
      if (req.sentOn === socket) continue;
      const local = answerLocally(req.frame);
      if (local) {
        this.settle(req, local);
        continue;
      }
      socket.send(JSON.stringify(req.frame));
      req.sentOn = socket;
    }
  }

  /** Rejects every waiting request with `error` (the client is closing). */
  rejectAll(error: ConnectionManagerError): void {
    for (const req of [...this.pending.values()]) this.settle(req, undefined, error);
  }

  /** Settles a request once: a late reply after a timeout (or the reverse) is ignored. */
  private settle(req: PendingRequest, frame: ServerFrame | undefined, error?: ConnectionManagerError): void {
    if (this.pending.get(req.id) !== req) return;
    this.pending.delete(req.id);
    clearTimeout(req.timer);
    if (error) req.reject(error);
    else req.resolve(frame!);
  }
}
