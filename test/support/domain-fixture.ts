import { EventEmitter2 } from '@nestjs/event-emitter';
import { afterEach, vi } from 'vitest';
import { InMemoryConnectionQuotaStore } from '../../src/backends/memory/in-memory-connection-quota-store.js';
import { InMemoryMembershipStore } from '../../src/backends/memory/in-memory-membership-store.js';
import { InMemoryRoomLog } from '../../src/backends/memory/in-memory-room-log.js';
import { RoomMessages } from '../../src/domain/rooms/room-messages.js';
import { InMemorySessionStore } from '../../src/backends/memory/in-memory-session-store.js';
import { ClientConnection } from '../../src/domain/connections/client-connection.js';
import { ConnectionLifecycleService } from '../../src/domain/connections/connection-lifecycle.service.js';
import { ConnectionService } from '../../src/domain/connections/connection.service.js';
import type { Identity } from '../../src/domain/connections/identity.js';
import { credentialDeadline } from '../../src/domain/connections/credential-deadline.js';
import { SessionResumeService } from '../../src/domain/connections/session-resume.service.js';
import { TokenExpiryService } from '../../src/domain/connections/token-expiry.service.js';
import type { CanvasAccessPolicy } from '../../src/domain/ports/canvas-access-policy.port.js';
import type { RoomBus } from '../../src/domain/ports/room-bus.port.js';
import type { LogHead, RoomLog } from '../../src/domain/ports/room-log.port.js';
import type { SocketLike } from '../../src/domain/ports/socket.port.js';
import type { TenantQuotaPolicy } from '../../src/domain/ports/tenant-quota-policy.port.js';
import { ConnectionQuotaService } from '../../src/domain/quotas/connection-quota.service.js';
import { TenantQuotas } from '../../src/domain/quotas/tenant-quotas.js';
import { ClaimsCanvasAccessPolicy } from '../../src/domain/rooms/claims-canvas-access-policy.js';
import { LocalRoomRegistry } from '../../src/domain/rooms/local-room.registry.js';
import { RoomDelivery } from '../../src/domain/rooms/room-delivery.js';
import { RoomService } from '../../src/domain/rooms/room.service.js';
import { SessionService } from '../../src/domain/sessions/session.service.js';
import type { ConnectionManagerEventName } from '../../src/kernel/connection-manager.events.js';
import {
  resolveConnectionManagerOptions,
  type ConnectionManagerOptions,
  type ResolvedConnectionManagerOptions,
} from '../../src/kernel/connection-manager.options.js';
import { DomainEventPublisher } from '../../src/kernel/domain-events.publisher.js';
import { InstanceRoomSet } from '../../src/domain/cluster/instance-room-set.js';

/**
 * The domain wired by hand for unit specs (src/domain/**\/*.spec.ts): the real services, the
 * real in-memory adapters of the ports (membership store, session store), the real event
 * publisher on a real EventEmitter2, and fakes only where the transport would be: a
 * {@link FakeSocket} per connection and, when a spec asks for one, a recording {@link FakeRoomBus}.
 * No Nest container and no network: every service is built with `new`, in the same order as
 * the composition root would inject them.
 */

/** A socket that records what the domain does to it (the transport-facing fake). */
export class FakeSocket implements SocketLike {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  terminated = false;

  send(data: string | Buffer): void {
    this.sent.push(typeof data === 'string' ? data : data.toString('utf8'));
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 2;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  ping(): void {}

  /** Every frame sent so far, parsed. */
  frames(): Array<{ type: string; [key: string]: any }> {
    return this.sent.map((s) => JSON.parse(s));
  }
  /** The frames sent since the last take, parsed (and forgotten). */
  take(): Array<{ type: string; [key: string]: any }> {
    return this.sent.splice(0).map((s) => JSON.parse(s));
  }
  /** Frame types sent since the last take (and forgets them). */
  takeTypes(): string[] {
    return this.take().map((f) => f.type);
  }
}

/** A cluster bus that records what the domain asks of it; `remote()` plays another instance's frame. */
export class FakeRoomBus implements RoomBus {
  readonly subscribed = new Set<string>();
  readonly published: Array<{ roomKey: string; frame: string; except: string | undefined; messageId: string | undefined }> = [];
  private handler: Parameters<RoomBus['onRemoteFrame']>[0] | undefined;

  subscribe(roomKey: string): Promise<void> {
    this.subscribed.add(roomKey);
    return Promise.resolve();
  }
  unsubscribe(roomKey: string): void {
    this.subscribed.delete(roomKey);
  }
  publish(roomKey: string, frame: string, except: string | undefined, messageId: string | undefined): void {
    this.published.push({ roomKey, frame, except, messageId });
  }
  onRemoteFrame(handler: Parameters<RoomBus['onRemoteFrame']>[0]): void {
    this.handler = handler;
  }
  /** Delivers a frame as if another instance had published it. */
  remote(roomKey: string, frame: string, except?: string, messageId?: string): void {
    this.handler?.(roomKey, frame, except, messageId);
  }
}

export type TestConnection = ClientConnection & { socket: FakeSocket };

export interface DomainFixtureOptions {
  /** Module options (the JWT secret is filled in). */
  options?: Partial<ConnectionManagerOptions>;
  /** Replaces the default claims-based access policy. */
  policy?: CanvasAccessPolicy;
  /** Cluster mode's bus; absent = a single instance. */
  bus?: FakeRoomBus;
  /** The host's per-tenant limits; absent = the module options for every tenant. */
  tenantQuotaPolicy?: TenantQuotaPolicy;
  /**
   * Cluster mode's room log, as the rooms see it: it delivers itself (the bus brings every
   * message, see {@link FakeRoomBus.remote}) and its head is answered by this; the rest is the
   * in-memory log. Absent = the in-memory log.
   */
  clusterLogHead?: (roomKey: string) => Promise<LogHead>;
}

export interface RecordedEvent {
  name: string;
  payload: any;
}

let connectionSeq = 0;

/** The in-memory log as cluster mode's looks to the rooms: it delivers itself, and its head is `head`'s answer. */
function clusterLog(memory: InMemoryRoomLog, head: (roomKey: string) => Promise<LogHead>): RoomLog {
  return {
    deliversItself: true,
    append: (message) => memory.append(message),
    head,
    readAfter: (roomKey, after, exceptSender) => memory.readAfter(roomKey, after, exceptSender),
    lastSeq: (sessionId, roomKeys) => memory.lastSeq(sessionId, roomKeys),
    close: () => memory.close(),
  };
}

export class DomainFixture {
  readonly options: ResolvedConnectionManagerOptions;
  readonly emitter: EventEmitter2 = new EventEmitter2();
  readonly publisher: DomainEventPublisher;
  /** Every domain event published, in order. */
  readonly events: RecordedEvent[] = [];
  readonly membership = new InMemoryMembershipStore();
  readonly quotaStore = new InMemoryConnectionQuotaStore();
  readonly tenantQuotas: TenantQuotas;
  readonly quotas: ConnectionQuotaService;
  readonly sessionStore: InMemorySessionStore;
  readonly roomLog: InMemoryRoomLog;
  readonly connections: ConnectionService;
  readonly local: LocalRoomRegistry;
  readonly delivery: RoomDelivery;
  readonly sessions: SessionService;
  readonly rooms: RoomService;
  readonly expiry: TokenExpiryService;
  readonly lifecycle: ConnectionLifecycleService;
  readonly resumer: SessionResumeService;
  readonly instanceId = 'instance-1';

  constructor(init: DomainFixtureOptions = {}) {
    this.options = resolveConnectionManagerOptions({ jwt: { secret: 'domain-spec-secret' }, ...init.options });
    this.emitter.onAny((name, payload) => this.events.push({ name: String(name), payload }));
    this.publisher = new DomainEventPublisher(this.emitter);
    this.sessionStore = new InMemorySessionStore(this.options.resumeBufferMessages, this.options.resumeBufferBytes);
    this.roomLog = new InMemoryRoomLog({
      maxMessages: this.options.resumeBufferMessages,
      maxBytes: this.options.resumeBufferBytes,
      idleTtlMs: 86_400_000,
      seqTtlMs: 2 * this.options.reconnectTokenTtlMs,
    });
    const log = init.clusterLogHead ? clusterLog(this.roomLog, init.clusterLogHead) : this.roomLog;
    this.connections = new ConnectionService(this.options);
    this.local = new LocalRoomRegistry(init.bus);
    this.delivery = new RoomDelivery(this.options, this.local, this.connections, init.bus, undefined, log);
    this.sessions = new SessionService(this.options, this.sessionStore, this.connections, this.publisher, this.emitter);
    this.sessions.onModuleInit();
    const policy = init.policy ?? new ClaimsCanvasAccessPolicy();
    this.tenantQuotas = new TenantQuotas(this.options, init.tenantQuotaPolicy);
    this.quotas = new ConnectionQuotaService(this.options, this.quotaStore, this.tenantQuotas);
    this.rooms = new RoomService(
      this.options,
      this.membership,
      policy,
      this.local,
      this.delivery,
      this.sessions,
      this.publisher,
      new InstanceRoomSet(),
      this.tenantQuotas,
      log,
      new RoomMessages(log, this.delivery, this.sessions, this.connections),
      init.bus,
    );
    this.expiry = new TokenExpiryService(this.options, this.connections, this.publisher);
    this.lifecycle = new ConnectionLifecycleService(this.options, this.connections, this.rooms, this.sessions, this.expiry, this.publisher, this.quotas);
    this.resumer = new SessionResumeService(this.options, log, this.connections, this.lifecycle, this.rooms, this.sessions, this.expiry, this.publisher);
  }

  /**
   * A registered connection on a fake socket, as the connection handler makes one after an
   * admitted upgrade (slot reserved, then registered). Nothing is sent yet: see {@link open}.
   */
  connect(identity: Partial<Identity> = {}, sessionId?: string): TestConnection {
    const n = ++connectionSeq;
    const full: Identity = { userId: 'ann', tenantId: 't1', expiresAt: Date.now() + 3_600_000, ...identity };
    const connection = new ClientConnection(`conn-${n}`, sessionId ?? `session-${n}`, full, '10.0.0.1', new FakeSocket(), Date.now());
    // As the admission gives it for a fresh login: the JWT's exp + tolerance + grace.
    connection.credentialDeadline = credentialDeadline(full.expiresAt, this.options);
    if (!this.connections.tryReserve()) throw new Error('fixture: maxConnections reached');
    this.connections.register(connection);
    return connection as TestConnection;
  }

  /** A fresh connection that got its ack; returns it with its reconnect token (the ack is taken off the socket). */
  async open(identity: Partial<Identity> = {}): Promise<{ connection: TestConnection; token: string }> {
    const connection = this.connect(identity);
    await this.lifecycle.start(connection);
    const ack = connection.socket.take().find((f) => f.type === 'connection_ack');
    if (!ack) throw new Error('fixture: no connection_ack');
    return { connection, token: ack.reconnectToken as string };
  }

  /** Joins `canvasIds` in order; throws when one is refused. */
  async join(connection: ClientConnection, ...canvasIds: string[]): Promise<void> {
    for (const canvasId of canvasIds) {
      const outcome = await this.rooms.join(connection, canvasId);
      if (!outcome.ok) throw new Error(`fixture: join ${canvasId} refused with ${outcome.code}`);
    }
  }

  /**
   * What the transport does when a socket's close completes: the socket is CLOSED and the
   * lifecycle cleans up. Resolves when the cleanup has finished.
   */
  socketClosed(connection: TestConnection, code = 1006, reason = ''): Promise<void> {
    connection.socket.readyState = 3;
    return this.lifecycle.finalize(connection, code, reason);
  }

  /** Events of one name, in order. */
  eventsNamed(name: ConnectionManagerEventName): any[] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload);
  }

  /** Names of the events published so far (and forgets them). */
  takeEventNames(): string[] {
    return this.events.splice(0).map((e) => e.name);
  }

  /** Stops every timer the services and stores armed. */
  async dispose(): Promise<void> {
    this.lifecycle.onModuleDestroy();
    this.expiry.onModuleDestroy();
    this.sessions.onApplicationShutdown();
    await this.sessions.onModuleDestroy();
    this.roomLog.close();
  }

  /** Publishes a room message as the router does: `frame` is a whole `{"type":"message",…}` frame (the log writes `pos` in). */
  publish(roomKey: string, frame: string, senderConnectionId?: string, seq?: number): void {
    const head = '{"type":"message",';
    if (!frame.startsWith(head)) throw new Error(`fixture: not a message frame: ${frame}`);
    this.rooms.publish({ roomKey, frameTail: frame.slice(head.length), senderConnectionId, seq });
  }
}

/**
 * The fixtures of one spec file: `const fixture = domainFixtures();` at the top level, then
 * `fixture({...})` in a test. After each test the fixture is disposed and real timers and
 * unmocked functions are back.
 */
export function domainFixtures(defaults: () => DomainFixtureOptions = () => ({})): (init?: DomainFixtureOptions) => DomainFixture {
  let current: DomainFixture | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    await current?.dispose();
    current = undefined;
  });
  return (init = {}) => (current = new DomainFixture({ ...defaults(), ...init }));
}
