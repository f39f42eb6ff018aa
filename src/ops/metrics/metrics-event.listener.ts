import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import {
  ConnectionManagerEvent,
  type AuthExpiredEvent,
  type AuthReauthenticatedEvent,
  type ConnectionClosedEvent,
  type ConnectionEstablishedEvent,
  type ConnectionMessageEvent,
  type ConnectionRefusedEvent,
  type RoomJoinRefusedEvent,
  type RoomJoinedEvent,
  type RoomLeftEvent,
  type SessionResumedEvent,
} from '../../kernel/connection-manager.events.js';
import { OPS_OPTIONS } from '../ops.constants.js';
import type { ResolvedOpsOptions } from '../ops.options.js';
import { EventSubscriptions } from '../../kernel/event-subscriptions.js';
import { MetricsService } from './metrics.service.js';

/**
 * Moves the event-driven counters: one counter increment per domain event, none per recipient.
 *
 * Listeners attach when the module initialises (so nothing published after that is missed) and
 * detach on shutdown; a metrics bug is logged and never reaches the code that published the
 * event (see DomainEventPublisher and EventSubscriptions). Nothing is attached when `metrics.enabled` is false.
 */
@Injectable()
export class MetricsEventListener implements OnModuleInit, OnApplicationShutdown {
  private readonly subscriptions: EventSubscriptions;

  constructor(
    events: EventEmitter2,
    private readonly metrics: MetricsService,
    @Inject(OPS_OPTIONS) private readonly options: ResolvedOpsOptions,
  ) {
    this.subscriptions = new EventSubscriptions(events, new Logger(MetricsEventListener.name));
  }

  onModuleInit(): void {
    if (!this.options.metrics.enabled) return;
    const m = this.metrics;
    const E = ConnectionManagerEvent;
    this.subscriptions
      .on(E.ConnectionEstablished, (_e: ConnectionEstablishedEvent) => m.tally.acceptedUpgrades++)
      .on(E.ConnectionRefused, (e: ConnectionRefusedEvent) => {
        m.upgrades.inc({ outcome: 'refused', status: String(e.status), code: e.code });
        if (e.quota !== undefined) m.quotaRefusals.inc({ quota: e.quota });
      })
      .on(E.ConnectionClosed, (e: ConnectionClosedEvent) => {
        m.closes.inc({ cause: e.cause });
        if (e.cause === 'heartbeat_timeout') m.heartbeatTerminations.inc();
        else if (e.cause === 'slow_consumer') m.slowConsumerCloses.inc();
      })
      .on(E.ConnectionMessage, (_e: ConnectionMessageEvent) => m.tally.messagesIn++)
      .on(E.RoomJoined, (e: RoomJoinedEvent) => (e.resumed ? m.joins.inc({ outcome: 'restored' }) : m.tally.joinsOk++))
      .on(E.RoomJoinRefused, (e: RoomJoinRefusedEvent) => m.joins.inc({ outcome: e.code }))
      .on(E.RoomLeft, (e: RoomLeftEvent) => m.leaves.inc({ reason: e.reason }))
      .on(E.AuthReauthenticated, (_e: AuthReauthenticatedEvent) => m.reauths.inc())
      .on(E.AuthExpired, (_e: AuthExpiredEvent) => m.authExpiries.inc())
      .on(E.SessionResumed, (e: SessionResumedEvent) => {
        m.resumes.inc({ missed: e.missed });
        if (e.missed === 'truncated') m.replayTruncations.inc();
      })
      .on(E.SessionExpired, () => m.sessionExpiries.inc());
  }

  onApplicationShutdown(): void {
    this.subscriptions.clear();
  }
}
