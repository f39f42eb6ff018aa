import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { ConnectionManagerEventName } from './connection-manager.events.js';

type Listener = (...args: unknown[]) => unknown;

/**
 * Publishes the domain events. It walks the emitter's listeners itself (those of the event,
 * then the `onAny` ones) instead of calling `emit()`, which would stop at the first listener
 * that throws and rethrow into the frame handling that caused the event. So every listener
 * runs synchronously and in isolation: one that throws (an `@OnEvent` listener is already
 * wrapped by Nest, a raw `emitter.on` one is not) is logged and skipped, and neither stops the
 * listeners after it nor reaches the connection that caused the event. An async listener's
 * rejection is caught the same way.
 */
@Injectable()
export class DomainEventPublisher {
  private readonly logger = new Logger(DomainEventPublisher.name);

  constructor(private readonly emitter: EventEmitter2) {}

  publish(name: ConnectionManagerEventName, payload: object): void {
    const listeners = this.emitter.listeners(name) as Listener[];
    for (let i = 0; i < listeners.length; i++) this.run(name, listeners[i]!, payload, false);
    const any = this.emitter.listenersAny() as Listener[];
    for (let i = 0; i < any.length; i++) this.run(name, any[i]!, payload, true);
  }

  private run(name: string, listener: Listener, payload: object, isAny: boolean): void {
    try {
      const result = isAny ? listener.call(this.emitter, name, payload) : listener.call(this.emitter, payload);
      if (result instanceof Promise) result.catch((err: unknown) => this.fail(name, err));
    } catch (err) {
      this.fail(name, err);
    }
  }

  private fail(name: string, err: unknown): void {
    this.logger.error(`listener of ${name} failed: ${(err as Error)?.message ?? String(err)}`);
  }
}
