import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { startDefaultMetrics } from './default-metrics.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { CloseCause } from '../../kernel/connection-manager.events.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { AdmissionStats } from '../../domain/connections/admission-stats.js';
import { ConnectionService } from '../../domain/connections/connection.service.js';
import { LifecycleState } from '../../domain/connections/lifecycle-state.js';
import { RoomService } from '../../domain/rooms/room.service.js';
import { ReadinessRegistry } from '../health/readiness.registry.js';
import { OPS_OPTIONS } from '../ops.constants.js';
import type { ResolvedOpsOptions } from '../ops.options.js';
import { LeanHistogram } from './lean-histogram.js';
import { scrapedCounter } from './scraped-counter.js';
import { topTenants } from './top-tenants.js';

/** Refusals the Connection Manager can answer, pre-created at 0 so `rate()` and alerts work from the first scrape. */
const KNOWN_REFUSALS: ReadonlyArray<[status: string, code: string]> = [
  ['401', 'UNAUTHORIZED'],
  ['403', 'ORIGIN_NOT_ALLOWED'],
  ['429', 'RATE_LIMITED'],
  ['429', 'QUOTA_EXCEEDED'],
  ['503', 'SERVER_FULL'],
  ['503', 'DRAINING'],
  ['503', 'UNAVAILABLE'],
];
/** Every close cause, pre-created at 0; a cause added to CloseCause fails to compile here until listed (and documented). */
const CLOSE_CAUSES = Object.keys({
  client: true,
  heartbeat_timeout: true,
  policy_violation: true,
  message_too_big: true,
  token_expired: true,
  identity_mismatch: true,
  session_taken_over: true,
  disconnected_by_server: true,
  server_shutdown: true,
  slow_consumer: true,
  error: true,
} satisfies Record<CloseCause, true>) as CloseCause[];
const JOIN_OUTCOMES = ['ok', 'restored', 'ROOM_FULL', 'FORBIDDEN', 'UNAVAILABLE', 'TOO_MANY_ROOMS'] as const;
const LEAVE_REASONS = ['leave', 'disconnect', 'kicked'] as const;
const MISSED = ['none', 'replayed', 'truncated'] as const;
const QUOTAS = ['user', 'tenant'] as const;

/**
 * The instance's Prometheus metrics, on a registry of its own (not prom-client's global one:
 * two apps in one process, as in tests, never share or clash). docs/operations.md lists them.
 *
 * Two kinds:
 * - counters moved by domain events (see MetricsEventListener) and the fan-out histogram
 *   (FanoutLatencyTimer): one increment per event, never per recipient;
 * - values read at scrape time through prom-client `collect()` callbacks: open connections,
 *   per-tenant connections (capped, see `tenantLabelLimit`), rooms, draining, backend checks,
 *   and the broadcast counters that the fan-out keeps as plain numbers on its hot path
 *   (`RoomService.deliveryStats`).
 */
@Injectable()
export class MetricsService implements OnApplicationShutdown {
  readonly registry = new Registry();
  readonly prefix: string;

  readonly upgrades: Counter<'outcome' | 'status' | 'code'>;
  /**
   * Per-connection increments of the commonest label sets (an accepted upgrade, an ok join) and
   * the per-message count of messages in, counted as plain numbers and added to their counters at scrape time: prom-client hashes and
   * validates the labels on every `inc`, which is part of each connect and message otherwise (issue 15).
   */
  readonly tally = { acceptedUpgrades: 0, joinsOk: 0, messagesIn: 0 };
  readonly quotaRefusals: Counter<'quota'>;
  readonly closes: Counter<'cause'>;
  readonly heartbeatTerminations: Counter;
  readonly slowConsumerCloses: Counter;
  readonly joins: Counter<'outcome'>;
  readonly leaves: Counter<'reason'>;
  readonly messagesIn: Counter;
  readonly reauths: Counter;
  readonly authExpiries: Counter;
  readonly resumes: Counter<'missed'>;
  readonly replayTruncations: Counter;
  readonly sessionExpiries: Counter;
  readonly fanoutSeconds: Histogram;

  constructor(
    @Inject(OPS_OPTIONS) options: ResolvedOpsOptions,
    @Inject(CONNECTION_MANAGER_OPTIONS) cmOptions: ResolvedConnectionManagerOptions,
    connections: ConnectionService,
    rooms: RoomService,
    lifecycle: LifecycleState,
    readiness: ReadinessRegistry,
    admission: AdmissionStats,
  ) {
    const { prefix, tenantLabelLimit, fanoutBuckets, defaultMetrics, eventLoopResolutionMs, enabled } = options.metrics;
    this.prefix = prefix;
    const registers = [this.registry];
    const name = (n: string) => `${prefix}${n}`;
    const delivery = rooms.deliveryStats;

    if (enabled && defaultMetrics) startDefaultMetrics(this.registry, { prefix, eventLoopResolutionMs });

    // --- read at scrape time ---
    new Gauge({
      name: name('connections'),
      help: 'Open WebSocket connections on this instance.',
      registers,
      collect() {
        this.set(connections.count);
      },
    });
    new Gauge({
      name: name('connections_limit'),
      help: 'Connections this instance accepts (maxConnections); more get 503 SERVER_FULL.',
      registers,
      collect() {
        this.set(cmOptions.maxConnections);
      },
    });
    if (tenantLabelLimit > 0) {
      new Gauge({
        name: name('tenant_connections'),
        help: `Open connections per tenant: the ${tenantLabelLimit} tenants with the most connections (label tenant), the rest summed in one series with label other_tenants="true" and no tenant label.`,
        labelNames: ['tenant', 'other_tenants'],
        registers,
        collect() {
          this.reset();
          const { top, others } = topTenants(connections.countsByTenant(), tenantLabelLimit);
          for (const [tenant, n] of top) this.set({ tenant }, n);
          // A label of its own, not a reserved tenant name: any tenant id can be a real tenant.
          if (others !== undefined) this.set({ other_tenants: 'true' }, others);
        },
      });
    }
    new Gauge({
      name: name('rooms'),
      help: 'Rooms with at least one connection on this instance.',
      registers,
      collect() {
        this.set(rooms.localRoomCount);
      },
    });
    new Gauge({
      name: name('draining'),
      help: '1 while this instance drains for shutdown (readiness is then 503), else 0.',
      registers,
      collect() {
        this.set(lifecycle.draining ? 1 : 0);
      },
    });
    new Gauge({
      name: name('backend_up'),
      help: 'Per registered readiness check (cluster mode: backend="redis"): 1 when ready, 0 when not. Absent without checks.',
      labelNames: ['backend'],
      registers,
      async collect() {
        this.reset();
        for (const r of await readiness.evaluate(options.health.checkTimeoutMs)) this.set({ backend: r.name }, r.ready ? 1 : 0);
      },
    });
    scrapedCounter({
      name: name('messages_out_total'),
      help: 'Frames written to sockets by room broadcasts on this instance (messages, presence_join/leave; one per recipient).',
      registers,
      read: () => delivery.delivered,
    });
    scrapedCounter({
      name: name('broadcasts_total'),
      help: "Room broadcasts that reached this instance's part of a room (one per frame, whatever the recipients).",
      registers,
      read: () => delivery.broadcasts,
    });

    scrapedCounter({
      name: name('presence_stale_leaves_total'),
      help: "Cluster mode: presence_leave frames from other instances for a user still in the room here (published late, after the user's join elsewhere): not delivered, the user's presence_join published again instead.",
      registers,
      read: () => delivery.staleLeavesRepaired,
    });
    scrapedCounter({
      name: name('room_log_gaps_read_total'),
      help: "Cluster mode: gaps in a room's message positions on this instance (a message came before one below it, or pub/sub lost one), read from the room log and delivered in order.",
      registers,
      read: () => delivery.order?.gapsFilled ?? 0,
    });
    scrapedCounter({
      name: name('room_log_gaps_left_total'),
      help: "Cluster mode: gaps in a room's message positions the room log could not fill (unreachable, or the messages no longer kept): the members here miss them.",
      registers,
      read: () => delivery.order?.gapsGivenUp ?? 0,
    });

    scrapedCounter({
      name: name('rate_limiter_fallbacks_total'),
      help: 'Cluster mode: upgrade attempts the IP rate limiter counted per instance because Redis did not answer.',
      registers,
      read: () => admission.rateLimiterFallbacks,
    });
    scrapedCounter({
      name: name('quota_fallbacks_total'),
      help: 'Cluster mode: upgrades whose connection quota was checked per instance because Redis did not answer.',
      registers,
      read: () => admission.quotaFallbacks,
    });

    // --- moved by events ---
    this.upgrades = new Counter({
      name: name('upgrades_total'),
      help: 'WebSocket upgrade attempts by outcome: accepted (status 101) or refused with an HTTP status and code.',
      labelNames: ['outcome', 'status', 'code'],
      registers,
      collect: () => {
        if (this.tally.acceptedUpgrades === 0) return;
        this.upgrades.inc({ outcome: 'accepted', status: '101', code: 'OK' }, this.tally.acceptedUpgrades);
        this.tally.acceptedUpgrades = 0;
      },
    });
    this.upgrades.inc({ outcome: 'accepted', status: '101', code: 'OK' }, 0);
    for (const [status, code] of KNOWN_REFUSALS) this.upgrades.inc({ outcome: 'refused', status, code }, 0);
    this.quotaRefusals = new Counter({
      name: name('quota_refusals_total'),
      help: 'Upgrades refused with 429 QUOTA_EXCEEDED, by the quota used up: user or tenant.',
      labelNames: ['quota'],
      registers,
    });
    for (const quota of QUOTAS) this.quotaRefusals.inc({ quota }, 0);

    this.closes = new Counter({ name: name('connections_closed_total'), help: 'Closed connections by cause.', labelNames: ['cause'], registers });
    for (const cause of CLOSE_CAUSES) this.closes.inc({ cause }, 0);
    this.heartbeatTerminations = new Counter({
      name: name('heartbeat_terminations_total'),
      help: 'Connections terminated because they answered no ping for a whole heartbeat interval.',
      registers,
    });
    this.slowConsumerCloses = new Counter({
      name: name('slow_consumer_closes_total'),
      help: 'Connections closed with 1013 because their unsent bytes exceeded maxBufferedBytes.',
      registers,
    });
    this.joins = new Counter({
      name: name('room_joins_total'),
      help: 'Room joins by outcome: ok, restored (by a resume), or the refusal code.',
      labelNames: ['outcome'],
      registers,
      collect: () => {
        if (this.tally.joinsOk === 0) return;
        this.joins.inc({ outcome: 'ok' }, this.tally.joinsOk);
        this.tally.joinsOk = 0;
      },
    });
    for (const outcome of JOIN_OUTCOMES) this.joins.inc({ outcome }, 0);
    this.leaves = new Counter({ name: name('room_leaves_total'), help: 'Connections leaving rooms, by reason.', labelNames: ['reason'], registers });
    for (const reason of LEAVE_REASONS) this.leaves.inc({ reason }, 0);
    const tally = this.tally;
    this.messagesIn = new Counter({
      name: name('messages_in_total'),
      help: 'Valid room messages received from clients (connection.message).',
      registers,
      // Counted per message as a plain number (tally.messagesIn), added here at scrape time.
      collect() {
        if (tally.messagesIn === 0) return;
        this.inc(tally.messagesIn);
        tally.messagesIn = 0;
      },
    });
    this.fanoutSeconds = new LeanHistogram({
      name: name('fanout_duration_seconds'),
      help: 'Time from a client message being accepted (connection.message) to the end of its synchronous delivery to the local room.',
      buckets: fanoutBuckets,
      registers,
    });
    this.reauths = new Counter({ name: name('reauths_total'), help: 'Successful in-band reauthentications (reauth_ok).', registers });
    this.authExpiries = new Counter({
      name: name('auth_expiries_total'),
      help: 'Connections closed with 4001 because their token expired and no reauth came within the grace.',
      registers,
    });
    this.resumes = new Counter({
      name: name('session_resumes_total'),
      help: 'Sessions resumed with a reconnect token, by what the client had missed: none, replayed, truncated.',
      labelNames: ['missed'],
      registers,
    });
    for (const missed of MISSED) this.resumes.inc({ missed }, 0);
    this.replayTruncations = new Counter({
      name: name('replay_truncations_total'),
      help: 'Resumes whose replay was incomplete (buffer overflowed or lost): the client must refetch state.',
      registers,
    });
    this.sessionExpiries = new Counter({
      name: name('session_expiries_total'),
      help: 'Suspended sessions whose reconnect window ran out without a resume.',
      registers,
    });
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  onApplicationShutdown(): void {
    this.registry.clear();
  }
}
