import { CloseCode } from '../src/protocol/protocol.types.js';
import { killSocket } from './socket-helpers.js';
import type { WebSocketLike } from './types.js';
import { readRefusal, type IncomingLike, type Refusal } from './upgrade-refusal.js';

/** What a connection attempt opens: a new session (JWT) or the old one again (reconnect token). */
export type AttemptMode = 'fresh' | 'resume';

/** One connection attempt: a socket, what it was opened for and how far it got. */
export interface Attempt {
  socket: WebSocketLike;
  mode: AttemptMode;
  /** A resume that carried the rooms' positions on its upgrade. */
  withPositions: boolean;
  opened: boolean;
  acked: boolean;
  /** Set when the upgrade was refused and the implementation showed why (`ws` only). */
  refusal?: Refusal;
  /** Whether this WebSocket implementation reports a refused upgrade's status (`ws`: yes; browsers: no). */
  canSeeStatus: boolean;
  /** The browser said it was offline when the attempt started (`navigator.onLine === false`). */
  offline: boolean;
  ackTimer?: ReturnType<typeof setTimeout>;
}

/** Where an attempt's socket events go. Each names its attempt, so events of a replaced one can be told apart. */
export interface AttemptHandlers {
  open(attempt: Attempt): void;
  message(attempt: Attempt, data: unknown): void;
  close(attempt: Attempt, code: number, reason: string): void;
}

/**
 * Starts an attempt on a socket just constructed: records what can be known up front and routes
 * the socket's events to `on`. A refused upgrade (seen with `ws` only) is recorded on the attempt
 * and the socket ended, so its close event comes next and finds the refusal there.
 */
export function startAttempt(socket: WebSocketLike, mode: AttemptMode, withPositions: boolean, on: AttemptHandlers): Attempt {
  const offline = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
  const attempt: Attempt = { socket, mode, withPositions, opened: false, acked: false, canSeeStatus: typeof socket.on === 'function', offline };
  socket.onopen = () => on.open(attempt);
  socket.onmessage = (event: { data: unknown }) => on.message(attempt, event.data);
  socket.onclose = (event: { code?: number; reason?: string }) => on.close(attempt, event.code ?? CloseCode.ABNORMAL, event.reason ?? '');
  // Errors are followed by a close event, handled there. (A handler must exist: `ws` throws without one.)
  socket.onerror = () => {};
  // Node's `ws` lets us see a refused upgrade's status and Retry-After; browsers never do.
  socket.on?.('unexpected-response', (_req: unknown, res: IncomingLike) => {
    attempt.refusal = readRefusal(res, () => killSocket(attempt.socket));
  });
  return attempt;
}
