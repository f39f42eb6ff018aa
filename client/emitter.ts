/** A tiny typed event emitter (no Node `events`, so it runs in browsers as is). */
export class Emitter<Events extends object> {
  /** Handlers by event; each set holds only handlers of its own event's payload type. */
  private readonly handlers = new Map<keyof Events, Set<(payload: Events[keyof Events]) => void>>();

  on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as (payload: Events[keyof Events]) => void);
    return () => this.off(event, handler);
  }

  off<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): void {
    this.handlers.get(event)?.delete(handler as (payload: Events[keyof Events]) => void);
  }

  /**
   * Calls every handler of `event`. A handler that throws does not stop the others nor the SDK:
   * the error is reported (`reportError` in browsers, console.error elsewhere).
   */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(payload);
      } catch (err) {
        report(err);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.handlers.get(event)?.size ?? 0;
  }
}

function report(err: unknown): void {
  const g = globalThis as { reportError?: (e: unknown) => void; console?: { error(...a: unknown[]): void } };
  if (typeof g.reportError === 'function') g.reportError(err);
  else g.console?.error('canvas client: an event handler threw', err);
}
