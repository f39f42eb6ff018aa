import type { ConnectionAckFrame } from '../src/protocol/protocol.types.js';
import { ConnectionManagerError, type ClientErrorCode, type UnacknowledgedMessage, type WebSocketLike } from './types.js';

/** A message `send()` accepted and the server has not acknowledged yet. */
interface OutboxEntry<TData> {
  seq: number;
  canvasId: string;
  data: TData;
  /** The serialized `message` frame, built once: a resend writes exactly what was first written. */
  text: string;
  /** The socket it was last written to; undefined while it waits for a connection. */
  sentOn?: WebSocketLike;
  resolve: () => void;
  reject: (err: ConnectionManagerError) => void;
}

/**
 * The sending side of exactly-once (acknowledged idempotent publish): every message gets a `seq`,
 * strictly increasing per session, and stays here until the server's `ack` for it. The server
 * remembers the highest `seq` it accepted for the session, so a resend of a message it already
 * has is acknowledged again but not delivered again: the outbox can resend whatever it is unsure
 * of after a resume, and nothing is lost or doubled.
 *
 * The bound (`maxUnackedMessages`) refuses new messages when full rather than dropping old ones:
 * an old message dropped silently is exactly the loss this exists to prevent.
 */
export class Outbox<TData> {
  /** In seq order: entries are only ever added with a higher seq than any before (Map keeps insertion order). */
  private readonly entries = new Map<number, OutboxEntry<TData>>();
  /** The last seq given out in the current session (0: none yet). */
  private lastSeq = 0;
  /** The session the seqs belong to (undefined before the first connection_ack). */
  private session: string | undefined;

  /**
   * @param max most messages kept unacknowledged
   * @param withSeq false only with the testing switch `unsafeDisableExactlyOnce.seq`: frames go
   *   out without `seq` (fire and forget, as before issue 16) and settle once written
   */
  constructor(
    private readonly max: number,
    private readonly withSeq: boolean,
  ) {}

  get isFull(): boolean {
    return this.entries.size >= this.max;
  }

  /** Takes a message (written at once to `socket` if one is open); resolves on its ack. Rejects with `OUTBOX_FULL` when full. */
  add(canvasId: string, data: TData, socket: WebSocketLike | undefined): Promise<void> {
    if (this.isFull) {
      return Promise.reject(new ConnectionManagerError('OUTBOX_FULL', `${this.max} messages await their ack (maxUnackedMessages)`, canvasId));
    }
    const seq = ++this.lastSeq;
    // seq goes last: the frame is written as the server documents it, and a frame without seq is the pre-issue-16 one.
    const text = JSON.stringify(this.withSeq ? { type: 'message', canvasId, data, seq } : { type: 'message', canvasId, data });
    return new Promise<void>((resolve, reject) => {
      const entry: OutboxEntry<TData> = { seq, canvasId, data, text, resolve, reject };
      this.entries.set(seq, entry);
      if (socket) this.write(entry, socket);
    });
  }

  /** `ack` for `seq`: the server accepted it (or had already: a resend is acknowledged again, not delivered again). */
  acked(seq: number): void {
    const entry = this.entries.get(seq);
    if (entry) this.settle(entry); // else settled already: a late or repeated ack
  }

  /** An `error` frame named this `seq`: the message was not accepted, nothing was delivered. Returns its canvas (undefined: not ours). */
  refused(seq: number, code: ClientErrorCode, message: string): string | undefined {
    const entry = this.entries.get(seq);
    if (!entry) return undefined;
    this.settle(entry, new ConnectionManagerError(code, message, entry.canvasId));
    return entry.canvasId;
  }

  /**
   * A connection was acknowledged. Resumed: the server says how far it got ({@link resumed}). A
   * new session after an earlier one (the resume was refused): the earlier session's messages are
   * {@link abandon}ed and returned, for the app. The first session keeps what was sent before it.
   * Call {@link flush} next.
   */
  connected(ack: Pick<ConnectionAckFrame, 'sessionId' | 'resumed' | 'lastSeq'>): UnacknowledgedMessage<TData>[] {
    let lost: UnacknowledgedMessage<TData>[] = [];
    if (ack.resumed) this.resumed(ack.lastSeq ?? 0);
    else if (this.session !== undefined) lost = this.abandon(new ConnectionManagerError('NOT_DELIVERED', 'the session was lost before the ack'));
    this.session = ack.sessionId;
    return lost;
  }

  /**
   * The session was resumed and the server had accepted every seq up to `lastSeq`: those are
   * acknowledged (their ack was lost with the old connection). The rest go out again in
   * {@link flush}, and new seqs continue above both.
   */
  private resumed(lastSeq: number): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.seq > lastSeq) break;
      this.settle(entry);
    }
    if (lastSeq > this.lastSeq) this.lastSeq = lastSeq;
  }

  /** Writes, in seq order, every entry not yet written on `socket` (the first connection's backlog, or resends after a resume). */
  flush(socket: WebSocketLike): void {
    for (const entry of [...this.entries.values()]) if (entry.sentOn !== socket) this.write(entry, socket);
  }

  /**
   * The session is gone (a fresh login replaced it): whether the server accepted these is
   * unknowable, and resending them into a new session could double them, so they are handed
   * back to the app instead. Rejects each with `error`, empties the outbox and starts the new
   * session's seqs at 1. Returns the messages in seq order.
   */
  abandon(error: ConnectionManagerError): UnacknowledgedMessage<TData>[] {
    const entries = [...this.entries.values()];
    this.entries.clear();
    this.lastSeq = 0;
    for (const entry of entries) entry.reject(new ConnectionManagerError(error.code, error.message, entry.canvasId));
    return entries.map(({ canvasId, data, seq }) => ({ canvasId, data, seq }));
  }

  /** Rejects every entry (the client is closing). */
  rejectAll(error: ConnectionManagerError): void {
    this.abandon(error);
  }

  private write(entry: OutboxEntry<TData>, socket: WebSocketLike): void {
    socket.send(entry.text);
    entry.sentOn = socket;
    if (!this.withSeq) this.settle(entry); // without seq there is no ack to wait for
  }

  private settle(entry: OutboxEntry<TData>, error?: ConnectionManagerError): void {
    if (this.entries.get(entry.seq) !== entry) return;
    this.entries.delete(entry.seq);
    if (error) entry.reject(error);
    else entry.resolve();
  }
}
