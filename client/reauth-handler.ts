import type { ReauthOkFrame, ReauthRequiredFrame, ServerFrame } from '../src/protocol/protocol.types.js';
import { backoffDelay, type ResolvedBackoff } from './backoff.js';
import type { NewRequest } from './request-tracker.js';
import { ConnectionManagerError, type ClientErrorEvent, type WebSocketLike } from './types.js';

/** Reauth attempts after one `reauth_required` (within its grace). */
const REAUTH_TRIES = 3;

/** What token refresh needs from the client. */
export interface ReauthDeps {
  token: () => Promise<string | null>;
  request: (frame: NewRequest) => Promise<ServerFrame>;
  /** Whether `socket` is still the client's current connection. */
  isCurrent: (socket: WebSocketLike) => boolean;
  backoff: ResolvedBackoff;
  onError: (error: ClientErrorEvent) => void;
}

/**
 * Token refresh on a live connection (`reauth` → `reauth_ok`), so a session outlives its JWT
 * without a reconnect: on the app's request, and by itself when the server says the token ran
 * out (`reauth_required`, with a grace before it closes with 4001).
 */
export class ReauthHandler {
  private inFlight: Promise<number> | undefined;

  constructor(private readonly deps: ReauthDeps) {}

  /**
   * Gets a new token and sends `reauth`; resolves with the new expiry (epoch ms). One refresh at
   * a time: calls made while one is under way share it (and its `getToken()` call).
   */
  reauth(): Promise<number> {
    this.inFlight ??= (async () => {
      try {
        const token = await this.deps.token();
        if (token === null) throw new ConnectionManagerError('TOKEN_UNAVAILABLE', 'getToken() gave no token');
        const ok = (await this.deps.request({ type: 'reauth', token })) as ReauthOkFrame;
        return ok.expiresAt;
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  /** Answers `reauth_required` on `socket`: a few tries, with backoff, while the grace lasts and the connection does. */
  async onReauthRequired(socket: WebSocketLike, frame: ReauthRequiredFrame): Promise<void> {
    const deadline = Date.now() + frame.graceMs;
    for (let i = 0; i < REAUTH_TRIES && this.deps.isCurrent(socket) && Date.now() < deadline; i++) {
      try {
        await this.reauth();
        return;
      } catch (err) {
        const e = err as ConnectionManagerError;
        if (e.code === 'CLOSED' || e.code === 'CONNECTION_LOST') return;
        this.deps.onError({ code: e.code, message: `reauth failed: ${e.message}` });
        await new Promise((r) => setTimeout(r, backoffDelay(i, this.deps.backoff)));
      }
    }
    // No luck: the server closes with 4001 when the grace ends, and the client logs in afresh.
  }
}
