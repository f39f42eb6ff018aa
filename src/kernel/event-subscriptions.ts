import type { Logger } from '@nestjs/common';
import type { EventEmitter2 } from '@nestjs/event-emitter';

/**
 * A set of domain-event listeners attached straight to the EventEmitter2, for the hot events
 * (every message, join and leave). Why not `@OnEvent`:
 * - cost: Nest wraps each `@OnEvent` handler in an `async` function, so every call of every
 *   listener makes a promise; a plain listener makes none;
 * - control: `@OnEvent` listeners are attached by Nest at bootstrap, always; these attach when
 *   the owner decides (in `onModuleInit` or `onApplicationBootstrap`, or not at all: metrics
 *   disabled, cluster listeners on a single instance) and detach as a set with {@link clear},
 *   after the drain has run.
 * Isolation does not depend on this class: DomainEventPublisher calls each listener itself and
 * logs what one throws. The try/catch here covers an event emitted straight on the emitter
 * (`emit()` would stop at a throwing listener and rethrow to its caller), so a listener's bug
 * is logged under its owner's context either way.
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
        this.logger.error(`listener for ${name} failed: ${(err as Error).message}`);
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
