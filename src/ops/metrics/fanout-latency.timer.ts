import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ConnectionManagerEvent } from '../../kernel/connection-manager.events.js';
import { OPS_OPTIONS } from '../ops.constants.js';
import type { ResolvedOpsOptions } from '../ops.options.js';
import { MetricsService } from './metrics.service.js';

const MESSAGE = ConnectionManagerEvent.ConnectionMessage;

/**
 * Feeds `fanout_duration_seconds`: how long one client message takes from the moment the
 * Connection Manager accepts it (it publishes `connection.message`) to the end of its local
 * delivery. DomainEventPublisher calls the event's listeners in the emitter's order and the
 * Router delivers synchronously inside its listener, so the span is measured by two listeners
 * of the same event: one kept first (`prependListener`) that takes a timestamp, one kept last
 * that observes the elapsed time. Cost per message: two listener calls, a read of
 * the listener list (to keep the marks first and last), two performance.now() and one histogram
 * observation; nothing per recipient.
 *
 * Limits, by construction:
 * - parsing and rate limiting before the publish are not included (the event carries no receipt
 *   timestamp; adding one to ConnectionMessageEvent would extend the span to frame receipt);
 * - asynchronous listeners, and in cluster mode the delivery on other instances, are not
 *   included: only this instance's synchronous fan-out;
 * - listeners attached after bootstrap are put back behind the end mark on the next message;
 *   that one message is not observed (those attached during bootstrap are handled then).
 */
@Injectable()
export class FanoutLatencyTimer implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  /** performance.now() at the start mark (ms, sub-µs resolution; no BigInt per message as with hrtime.bigint). */
  private startedAt: number | undefined;
  private attached = false;

  constructor(
    private readonly events: EventEmitter2,
    private readonly metrics: MetricsService,
    @Inject(OPS_OPTIONS) private readonly options: ResolvedOpsOptions,
  ) {}

  private readonly start = (): void => {
    if (!this.inOrder()) {
      // Someone attached after us: restore first/last, skip this (mis-bracketed) emission.
      this.detach();
      this.attach();
      this.startedAt = undefined;
      return;
    }
    this.startedAt = performance.now();
  };

  private readonly end = (): void => {
    const startedAt = this.startedAt;
    if (startedAt === undefined) return;
    this.startedAt = undefined;
    try {
      this.metrics.fanoutSeconds.observe((performance.now() - startedAt) / 1000);
    } catch {
      // A metrics failure must never reach the emitter.
    }
  };

  onModuleInit(): void {
    if (this.options.metrics.enabled) this.attach();
  }

  /**
   * Listeners attached after ours (the Router's plain listener when its module initialises
   * later, a host's `@OnEvent` ones, which Nest attaches during bootstrap): once every bootstrap
   * hook has run, put the end mark back behind them, so the first message is measured.
   */
  onApplicationBootstrap(): void {
    if (!this.attached) return;
    setImmediate(() => {
      if (this.attached && !this.inOrder()) {
        this.detach();
        this.attach();
      }
    }).unref();
  }

  onApplicationShutdown(): void {
    this.detach();
  }

  private inOrder(): boolean {
    const listeners = this.events.listeners(MESSAGE);
    return listeners[0] === this.start && listeners[listeners.length - 1] === this.end;
  }

  private attach(): void {
    this.events.prependListener(MESSAGE, this.start);
    this.events.on(MESSAGE, this.end);
    this.attached = true;
  }

  private detach(): void {
    if (!this.attached) return;
    this.events.off(MESSAGE, this.start);
    this.events.off(MESSAGE, this.end);
    this.attached = false;
  }
}
