import { Inject, Injectable, Optional } from '@nestjs/common';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { CloseCode } from '../../protocol/protocol.types.js';
import { TEXT_FRAME } from '../ports/socket.port.js';
import { WriteBatch } from '../ports/write-batch.port.js';
import { addOne, itemsOf, removeOne, type OneOrSet } from '../values/one-or-set.js';
import { ClientConnection, type OutboundGuard, type ServerClose } from './client-connection.js';

/**
 * Who is connected to this instance: by connection, by user and by tenant.
 * It also owns the instance's budgets: the connection budget (`maxConnections`: an upgrade
 * reserves a slot before its socket opens, so concurrent upgrades can never overshoot the
 * limit) and each connection's outbound budget (`maxBufferedBytes`, see {@link admitSend}).
 */
@Injectable()
export class ConnectionService implements OutboundGuard {
  private readonly byId = new Map<string, ClientConnection>();
  /**
   * tenantId → userId → that user's connections. Nested maps, not one `tenant\0user` string
   * key: tenant and user ids are arbitrary JWT claims (NUL bytes included), and a joined key
   * would let two different pairs collide. A user with one tab costs no Set (OneOrSet).
   */
  private readonly byUser = new Map<string, Map<string, OneOrSet<ClientConnection>>>();
  private readonly tenantCounts = new Map<string, number>();
  /** Open plus reserved connections per client IP (only kept when maxConnectionsPerIp is set). */
  private readonly ipCounts = new Map<string, number>();
  /** Upgrades that passed the checks and whose socket is not registered yet. */
  private reserved = 0;
  /** Connections closed with 1013 for exceeding maxBufferedBytes (read at scrape time). */
  slowConsumerCloses = 0;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Optional() @Inject(WriteBatch) private readonly batch?: WriteBatch,
  ) {}

  /** Open connections on this instance. */
  get count(): number {
    return this.byId.size;
  }

  /** Takes one slot of the connection budget; false when the instance is full. */
  tryReserve(): boolean {
    if (this.byId.size + this.reserved >= this.options.maxConnections) return false;
    this.reserved++;
    return true;
  }

  /** Gives back a slot taken by {@link tryReserve} whose upgrade never produced a connection. */
  releaseReservation(): void {
    if (this.reserved > 0) this.reserved--;
  }

  /**
   * Takes one of the IP's `maxConnectionsPerIp` slots (always true when the cap is 0). The slot
   * is held until the connection closes, or given back with {@link releaseIp}.
   */
  tryReserveIp(ip: string): boolean {
    const cap = this.options.maxConnectionsPerIp;
    if (cap === 0) return true;
    const n = this.ipCounts.get(ip) ?? 0;
    if (n >= cap) return false;
    this.ipCounts.set(ip, n + 1);
    return true;
  }

  releaseIp(ip: string): void {
    if (this.options.maxConnectionsPerIp === 0) return;
    const n = (this.ipCounts.get(ip) ?? 1) - 1;
    if (n <= 0) this.ipCounts.delete(ip);
    else this.ipCounts.set(ip, n);
  }

  /**
   * Registers a new connection, consuming one reservation (its IP slot stays taken). From here
   * on every send to it goes through {@link admitSend}.
   */
  register(connection: ClientConnection): void {
    this.releaseReservation();
    connection.outbound = this;
    this.byId.set(connection.id, connection);
    let users = this.byUser.get(connection.tenantId);
    if (!users) this.byUser.set(connection.tenantId, (users = new Map<string, OneOrSet<ClientConnection>>()));
    addOne(users, connection.userId, connection);
    this.tenantCounts.set(connection.tenantId, (this.tenantCounts.get(connection.tenantId) ?? 0) + 1);
  }

  /** Forgets a closed connection. Idempotent. */
  unregister(connection: ClientConnection): void {
    if (this.byId.get(connection.id) !== connection) return;
    this.byId.delete(connection.id);
    this.releaseIp(connection.ip);
    const users = this.byUser.get(connection.tenantId);
    if (users && removeOne(users, connection.userId, connection) && users.size === 0) this.byUser.delete(connection.tenantId);
    const n = (this.tenantCounts.get(connection.tenantId) ?? 1) - 1;
    if (n <= 0) this.tenantCounts.delete(connection.tenantId);
    else this.tenantCounts.set(connection.tenantId, n);
  }

  get(connectionId: string): ClientConnection | undefined {
    return this.byId.get(connectionId);
  }

  /** Every connection of one user on this instance (all tabs). */
  byUserId(tenantId: string, userId: string): ClientConnection[] {
    return itemsOf(this.byUser.get(tenantId)?.get(userId));
  }

  /** Every connection of one tenant on this instance. */
  byTenant(tenantId: string): ClientConnection[] {
    return [...this.byId.values()].filter((c) => c.tenantId === tenantId);
  }

  /** Connection counts per tenant (cheap: kept up to date on register/unregister). */
  countsByTenant(): ReadonlyMap<string, number> {
    return this.tenantCounts;
  }

  all(): IterableIterator<ClientConnection> {
    return this.byId.values();
  }

  /** Sends one frame to one connection; false when it is not open on this instance (or was just closed as a slow consumer). */
  send(connectionId: string, frame: object): boolean {
    const connection = this.byId.get(connectionId);
    return connection !== undefined && connection.sendFrame(frame);
  }

  /**
   * The one outbound bound, checked before every write to a connection, whatever its kind
   * (replies, errors, acks, presence, broadcasts, replays): true when the frame may be
   * written. A connection with more than `maxBufferedBytes` (default 1 MiB) queued and unsent
   * is a slow consumer: it is closed with 1013 (resumable: what it misses from now on is
   * buffered for its session), destroyed if it has not completed the close handshake 2 s
   * later (it is not reading), and the frame is dropped. Without this, a client that stops
   * reading while it keeps sending pings makes the server queue every pong (issue 12: +108 MiB).
   *
   * Bytes the {@link WriteBatch} holds until the end of the turn are in `bufferedAmount` but
   * are not late: before deciding, they are written out and the socket is looked at again, so a
   * burst within one turn is never taken for a slow consumer.
   *
   * Broadcasts ask the transport first (WriteBatch.offer, the same bound read from the socket's
   * fields in the same call as the write) and come here only when it wrote nothing.
   */
  admitSend(connection: ClientConnection): boolean {
    const socket = connection.socket;
    const max = this.options.maxBufferedBytes;
    if (socket.bufferedAmount <= max) return true;
    if (this.batch) {
      this.batch.flush(socket);
      if (socket.bufferedAmount <= max) return true;
    }
    this.slowConsumerCloses++;
    this.close(connection, { code: CloseCode.TRY_AGAIN_LATER, reason: 'slow consumer', cause: 'slow_consumer', resumable: true, forceAfterMs: 2000 });
    return false;
  }

  /** Writes one text frame to an open connection (after {@link admitSend}): encoded once by the transport's WriteBatch when there is one. */
  write(connection: ClientConnection, payload: string | Buffer): void {
    const batch = this.batch;
    if (batch === undefined) connection.socket.send(payload, TEXT_FRAME);
    else batch.write(connection.socket, batch.encode(typeof payload === 'string' ? Buffer.from(payload) : payload));
  }

  /**
   * Closes one connection with a close code. Unless `resumable` is true, its session ends
   * with it (the reconnect token stops working).
   */
  disconnect(connectionId: string, code = 1000, reason = '', resumable = false): boolean {
    const connection = this.byId.get(connectionId);
    if (!connection) return false;
    this.close(connection, { code, reason, cause: 'disconnected_by_server', resumable });
    return true;
  }

  /**
   * Ends every connection of a user (logout, ban) with `code` and `reason`; none of them can
   * be resumed. Limit to one tenant with `tenantId` (user ids are only unique per tenant).
   * Returns how many connections were closed.
   */
  disconnectUser(userId: string, code = 1000, reason = '', tenantId?: string): number {
    let n = 0;
    for (const connection of [...this.byId.values()]) {
      if (connection.userId !== userId || (tenantId !== undefined && connection.tenantId !== tenantId)) continue;
      this.close(connection, { code, reason, cause: 'disconnected_by_server', resumable: false });
      n++;
    }
    return n;
  }

  /**
   * Records why the server closes a connection, then closes it with a close frame. With
   * `forceAfterMs`, a peer that does not complete the close handshake by then (a client that
   * stopped reading) is destroyed instead of holding its buffers for ws's 30 s close timeout.
   */
  close(connection: ClientConnection, close: ServerClose & { reason: string; forceAfterMs?: number }): void {
    connection.recordClose(close);
    connection.socket.close(close.code, close.reason);
    if (close.forceAfterMs !== undefined) {
      setTimeout(() => {
        if (!connection.closed) connection.socket.terminate();
      }, close.forceAfterMs).unref();
    }
  }

  /** Records why, then destroys the socket without a close frame (dead peers). */
  terminate(connection: ClientConnection, close: Omit<ServerClose, 'code'>): void {
    connection.recordClose(close);
    connection.socket.terminate();
  }
}
