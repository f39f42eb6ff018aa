import { parseRetryAfter } from './backoff.js';
import type { ClientErrorCode } from './types.js';

/** A refused upgrade, as far as the WebSocket implementation lets us see it (Node's `ws` does). */
export interface Refusal {
  status: number;
  /** The server's refusal code from the JSON body, once read (`SERVER_FULL`, …). */
  code?: string;
  /** `QUOTA_EXCEEDED` only: which connection quota is used up (from the body). */
  quota?: 'user' | 'tenant';
  retryAfterMs?: number;
}

/** The bits of Node's IncomingMessage that `ws` hands to 'unexpected-response'. */
export interface IncomingLike {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

/** How long to wait for a refusal's body before giving up on its code (the status is enough). */
const BODY_WAIT_MS = 2000;
/** A refusal body is a small JSON error; more than this is not one. */
const MAX_BODY_CHARS = 4096;

/**
 * `ws` only: reads a refused upgrade. The status and Retry-After are known at once (the returned
 * {@link Refusal}); the error code is filled in from the body, after which `done` is called (once,
 * also when the body errs or never ends) so the caller can end the socket.
 */
export function readRefusal(res: IncomingLike, done: () => void): Refusal {
  const refusal: Refusal = { status: res.statusCode ?? 0, retryAfterMs: parseRetryAfter(res.headers?.['retry-after']) };
  let body = '';
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(guard);
    try {
      const error = (JSON.parse(body) as { error?: { code?: unknown; quota?: unknown } }).error;
      if (typeof error?.code === 'string') refusal.code = error.code;
      if (error?.quota === 'user' || error?.quota === 'tenant') refusal.quota = error.quota;
    } catch {
      // not JSON: the status is all we know
    }
    done();
  };
  const guard = setTimeout(finish, BODY_WAIT_MS);
  res.on('data', (chunk: unknown) => {
    if (body.length < MAX_BODY_CHARS) body += String(chunk);
  });
  res.on('end', finish);
  res.on('error', finish);
  return refusal;
}

/** The error code a refusal is reported with: the server's, else one that fits the status. */
export function refusalErrorCode(refusal: Refusal): ClientErrorCode {
  if (refusal.code !== undefined) return refusal.code as ClientErrorCode;
  if (refusal.status === 401) return 'UNAUTHORIZED';
  if (refusal.status === 429) return 'RATE_LIMITED';
  if (refusal.status === 503) return 'UNAVAILABLE';
  if (refusal.status === 403) return 'ORIGIN_NOT_ALLOWED';
  return 'CONNECT_FAILED';
}
