import type { ResolvedHeartbeat } from './client-options.js';

type Timer = ReturnType<typeof setTimeout>;

/** The one connection a heartbeat watches, as the heartbeat needs to see it. */
export interface HeartbeatLink {
  /** Whether this connection is still the client's current one (a replaced one is not watched). */
  isCurrent(): boolean;
  /** Whether the client's connection is acknowledged and open. */
  isOpen(): boolean;
  /** Writes an app-level `ping` to this connection. */
  sendPing(): void;
  /** No frame came back in time: the connection is dead. */
  onDead(): void;
}

/**
 * Dead-connection detection with app-level pings: browsers hide WebSocket protocol pings, and a
 * connection whose peer vanished (a laptop lid, a lost Wi-Fi) can look open for minutes.
 *
 * After `intervalMs` without any frame received a `ping` goes out; when nothing at all (the
 * `pong` or any other frame) arrives within `timeoutMs` after it, the link is dead. Any frame
 * counts as a sign of life, so a busy connection sends no pings.
 */
export class Heartbeat {
  private lastReceivedAt = 0;
  private idleTimer: Timer | undefined;
  private deadTimer: Timer | undefined;

  /** @param options undefined when the app turned the heartbeat off (then it never pings). */
  constructor(private readonly options: ResolvedHeartbeat | undefined) {}

  /** A frame arrived on the current connection. */
  received(): void {
    this.lastReceivedAt = Date.now();
  }

  /** Starts watching a freshly acknowledged connection. */
  start(link: HeartbeatLink): void {
    if (!this.options) return;
    this.lastReceivedAt = Date.now();
    this.scheduleIdleCheck(link, this.options.intervalMs);
  }

  stop(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.deadTimer);
    this.idleTimer = this.deadTimer = undefined;
  }

  private scheduleIdleCheck(link: HeartbeatLink, delayMs: number): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.idleCheck(link), Math.max(0, delayMs));
  }

  private idleCheck(link: HeartbeatLink): void {
    const hb = this.options!;
    if (!link.isCurrent() || !link.isOpen()) return;
    const idle = Date.now() - this.lastReceivedAt;
    if (idle < hb.intervalMs) {
      this.scheduleIdleCheck(link, hb.intervalMs - idle);
      return;
    }
    const sentAt = Date.now();
    link.sendPing();
    this.deadTimer = setTimeout(() => {
      if (!link.isCurrent()) return;
      if (this.lastReceivedAt >= sentAt) this.scheduleIdleCheck(link, hb.intervalMs - (Date.now() - this.lastReceivedAt));
      else link.onDead();
    }, hb.timeoutMs);
  }
}
