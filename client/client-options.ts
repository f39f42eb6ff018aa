import { resolveBackoff, type ResolvedBackoff } from './backoff.js';
import { ConnectionManagerError, type ConnectOptions, type CredentialTransport, type WebSocketConstructorLike } from './types.js';

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_HEARTBEAT = { intervalMs: 20_000, timeoutMs: 10_000 };

/** Heartbeat timings with the defaults filled in. */
export interface ResolvedHeartbeat {
  intervalMs: number;
  timeoutMs: number;
}

/** {@link ConnectOptions} checked, with every default filled in: what the client's parts are built from. */
export interface ResolvedOptions {
  url: string;
  /** The app's `getToken()`, normalised (see {@link tokenFrom}). */
  token: () => Promise<string | null>;
  WebSocket: WebSocketConstructorLike;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  /** Undefined when the app turned the heartbeat off. */
  heartbeat: ResolvedHeartbeat | undefined;
  backoff: ResolvedBackoff;
  maxBlindResumeAttempts: number;
  maxUnackedMessages: number;
  credentialsIn: CredentialTransport;
  /** The testing-only switches, both false unless the app (a test) set them. */
  unsafeDisableExactlyOnce: { positions: boolean; seq: boolean };
}

/**
 * Checks the options and fills in the defaults. Throws (TypeError, or RangeError for the
 * backoff) before anything is opened, so a misconfigured client never half-starts.
 */
export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  if (typeof options.url !== 'string' || options.url.length === 0) throw new TypeError('connect: url is required');
  if (typeof options.getToken !== 'function') throw new TypeError('connect: getToken is required');
  const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
  if (!ctor) throw new TypeError('connect: no WebSocket constructor (on Node 20 pass `WebSocket` from the ws package)');
  const credentialsIn = options.credentialsIn ?? 'subprotocol';
  if (credentialsIn !== 'subprotocol' && credentialsIn !== 'query') throw new TypeError("connect: credentialsIn must be 'subprotocol' or 'query'");
  // maxQueuedMessages (the offline queue's bound before the outbox) still counts, as the same bound.
  const maxUnackedMessages = options.maxUnackedMessages ?? options.maxQueuedMessages ?? 1000;
  if (!Number.isInteger(maxUnackedMessages) || maxUnackedMessages < 1) throw new TypeError('connect: maxUnackedMessages must be a positive integer');
  const unsafe = options.unsafeDisableExactlyOnce;
  return {
    url: options.url,
    token: tokenFrom(options.getToken),
    WebSocket: ctor,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    heartbeat: options.heartbeat === false ? undefined : { ...DEFAULT_HEARTBEAT, ...definedOnly(options.heartbeat ?? {}) },
    backoff: resolveBackoff(options.backoff),
    maxBlindResumeAttempts: options.maxBlindResumeAttempts ?? 5,
    maxUnackedMessages,
    credentialsIn,
    unsafeDisableExactlyOnce: { positions: unsafe?.positions === true, seq: unsafe?.seq === true },
  };
}

/**
 * Wraps the app's token provider: resolves null when it has no token (signed out: the client
 * stops rather than retrying), and turns a throwing or rejecting `getToken()` into a
 * `TOKEN_UNAVAILABLE` error (a passing failure: the client retries).
 */
function tokenFrom(getToken: ConnectOptions['getToken']): () => Promise<string | null> {
  return async () => {
    let token: string | null | undefined;
    try {
      token = await getToken();
    } catch (err) {
      throw new ConnectionManagerError('TOKEN_UNAVAILABLE', `getToken() failed: ${(err as Error)?.message ?? String(err)}`);
    }
    return typeof token === 'string' && token.length > 0 ? token : null;
  };
}

/** `{ intervalMs: undefined }` must not override a default with undefined. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
