import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hashReconnectToken, newReconnectToken } from './reconnect-token.js';

/** A session as this instance knows it: it outlives its connections (resume). */
export interface SessionHandle {
  sessionId: string;
  /** Shown once, in the connection_ack; only its hash is kept. */
  reconnectToken: string;
}

/**
 * Sessions: the identity of a tab across reconnects. Every connection_ack carries a fresh,
 * single-use reconnect token; the server keeps only its SHA-256 hash.
 */
@Injectable()
export class SessionService {
  /** token hash → sessionId, for the connections that hold a live token. */
  private readonly tokens = new Map<string, string>();
  /** sessionId → current token hash. */
  private readonly bySession = new Map<string, string>();

  /** Starts a new session for a fresh connection. */
  start(): SessionHandle {
    return this.issue(randomUUID());
  }

  /** Issues a new token for a session, invalidating its previous one. */
  issue(sessionId: string): SessionHandle {
    const reconnectToken = newReconnectToken();
    const hash = hashReconnectToken(reconnectToken);
    const previous = this.bySession.get(sessionId);
    if (previous) this.tokens.delete(previous);
    this.tokens.set(hash, sessionId);
    this.bySession.set(sessionId, hash);
    return { sessionId, reconnectToken };
  }

  /** Ends a session for good: its token stops working. */
  end(sessionId: string): void {
    const hash = this.bySession.get(sessionId);
    if (hash) this.tokens.delete(hash);
    this.bySession.delete(sessionId);
  }

  /** Sessions with a live token (for tests and leak checks). */
  get size(): number {
    return this.bySession.size;
  }
}
