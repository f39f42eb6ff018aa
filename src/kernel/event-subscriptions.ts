import type { Logger } from '@nestjs/common';
import type { EventEmitter2 } from '@nestjs/event-emitter';
import { errorMessage } from './error-message.js';

/**
 * A set of domain-event listeners attached straight to the EventEmitter2 (not via `@OnEvent`,
 * which attaches only at bootstrap and cannot be switched off by an option), each wrapped so
 * that whatever it throws is logged and never reaches the emitter: `emit()` runs listeners
 * inline, so a throw would otherwise land in the Connection Manager's frame handling.
 */
export class EventSubscriptions {
  private readonly attached: Array<[string, (payload: unknown) => void]> = [];

  constructor(
    private readonly events: EventEmitter2,
    private readonly logger: Logger,
  ) {}

  on<T>(name: string, fn: (payload: T) => void): this {
    const safe = (payload: unknown): void => {
      try {
        fn(payload as T);
      } catch (err) {
        this.logger.error(`listener for ${name} failed: ${errorMessage(err)}`);
      }
    };
    this.events.on(name, safe);
    this.attached.push([name, safe]);
    return this;
  }

  /**
   * Removes every listener attached through this set. Idempotent. Call it from
   * `onApplicationShutdown`, not `onModuleDestroy`: the Connection Manager's drain closes its
   * connections in `beforeApplicationShutdown`, in between, and those closes must be seen.
   */
  clear(): void {
    for (const [name, fn] of this.attached.splice(0)) this.events.off(name, fn);
  }
}
