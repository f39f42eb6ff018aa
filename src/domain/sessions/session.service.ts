import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { EventSubscriptions } from '../../kernel/event-subscriptions.js';
import { DomainEventPublisher } from '../../kernel/domain-events.publisher.js';
import { ConnectionService } from '../connections/connection.service.js';
import { randomUUID } from 'node:crypto';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { ConnectionManagerEvent, SessionExpiredEvent, type RoomLeftEvent } from '../../kernel/connection-manager.events.js';
import { SessionStore, type MissedMessages, type SessionCredentials, type SessionRecord } from '../ports/session-store.port.js';
import type { ClientConnection } from '../connections/client-connection.js';
import type { Identity } from '../connections/identity.js';
import { hashReconnectToken, newReconnectToken } from './reconnect-token.js';
import { errorMessage } from '../../kernel/error-message.js';

/**
 * Sessions outlive connections. Every connection_ack carries a fresh, single-use reconnect
 * token (192 random bits; only its SHA-256 is stored). After a resumable close the session is
 * kept for `reconnectTokenTtlMs` (default 5 min) with its rooms, buffering their messages;
 * `?reconnectToken=` on an upgrade resumes it on a new connection.
 */
@Injectable()
export class SessionService implements OnModuleInit, OnApplicationShutdown, OnModuleDestroy {
  private readonly logger = new Logger(SessionService.name);
  private readonly subscriptions: EventSubscriptions;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    @Inject(SessionStore) private readonly store: SessionStore,
    private readonly connections: ConnectionService,
    private readonly events: DomainEventPublisher,
    emitter: EventEmitter2,
  ) {
    this.subscriptions = new EventSubscriptions(emitter, this.logger);
  }

  onModuleInit(): void {
    // Plain listeners (no promise per event, unlike `@OnEvent`'s async wrapper).
    // Rooms are added by the joins themselves (rememberRoom, before room_joined; rememberRooms
    // for a resume's restored rooms); a leave is followed here.
    this.subscriptions.on(ConnectionManagerEvent.RoomLeft, (event: RoomLeftEvent) => this.onRoomLeft(event));
    this.store.onExpired((record) => this.publishExpired(record));
  }

  onApplicationShutdown(): void {
    this.subscriptions.clear();
  }

  async onModuleDestroy(): Promise<void> {
    await this.store.close();
  }

  /** A new session id for a fresh connection. */
  newSessionId(): string {
    return randomUUID();
  }

  /**
   * Records the connection as the session's holder under a fresh token and returns the token
   * (shown once, in the ack). The previous token of the session stops working.
   */
  activate(connection: ClientConnection): Promise<string> {
    const token = newReconnectToken();
    connection.tokenHash = hashReconnectToken(token);
    // One `then` on the store's promise (no async wrapper: this is on every connect).
    const unavailable = (err: unknown): string => {
      // A shared store that is down must not keep the connection from opening; the session is
      // re-registered (same token) when the store is back, so the token works from then on.
      this.logger.warn(`session store unavailable, session not yet resumable: ${errorMessage(err)}`);
      return token;
    };
    try {
      return this.store.activate(toRecord(connection, connection.rooms.keys()), connection.tokenHash).then(() => token, unavailable);
    } catch (err) {
      return Promise.resolve(unavailable(err));
    }
  }

  /** Registers a live connection's session again (after a shared store lost it). */
  async reactivate(connection: ClientConnection): Promise<void> {
    if (connection.tokenHash) await this.store.activate(toRecord(connection, connection.rooms.keys()), connection.tokenHash);
  }

  /**
   * Records a fresh join in the session's stored room list before the join is confirmed, so a
   * crash right after `room_joined` still resumes into the room (cluster mode: one `SADD` on the
   * session's room set, awaited). A store that is down does not fail the join: the list is
   * rewritten whole when the store is back (reactivate).
   */
  rememberRoom(connection: ClientConnection, canvasId: string): Promise<void> {
    const unavailable = (err: unknown): void => this.logger.warn(`session store unavailable, room list not updated: ${errorMessage(err)}`);
    try {
      return this.store.addRoom(connection.sessionId, canvasId).then(undefined, unavailable);
    } catch (err) {
      unavailable(err);
      return Promise.resolve();
    }
  }

  /**
   * Adds the rooms a resume restored to the session's stored room list (its record was just
   * written without them: `activate` runs before they are attached). Not awaited by the resume;
   * a store that is down logs, as in {@link rememberRoom}.
   */
  rememberRooms(connection: ClientConnection, canvasIds: string[]): void {
    for (const canvasId of canvasIds) void this.rememberRoom(connection, canvasId);
  }

  /**
   * Keeps the stored room list of a connected session current on a leave (what a crash-resume
   * restores): one O(1) store write. Leaves of a closing connection change nothing: its rooms are
   * what the session must get back, and `suspend` records them.
   */
  onRoomLeft(event: { connectionId: string; sessionId: string; canvasId: string }): void {
    const connection = this.connections.get(event.connectionId);
    if (!connection || connection.closed) return;
    this.store.removeRoom(event.sessionId, event.canvasId).catch((err: unknown) => {
      // Redis down: the list is rewritten whole when the store is back (reactivate).
      this.logger.warn(`session store unavailable, room list not updated: ${errorMessage(err)}`);
    });
  }

  /** The session a reconnect token belongs to, without using the token up. */
  find(reconnectToken: string): Promise<SessionRecord | undefined> {
    return this.store.find(hashReconnectToken(reconnectToken));
  }

  /** Uses a reconnect token up (single use); undefined when it was used meanwhile. */
  claim(reconnectToken: string): Promise<SessionRecord | undefined> {
    return this.store.claim(hashReconnectToken(reconnectToken));
  }

  /** Keeps a closed connection's session resumable, buffering the messages of its rooms. */
  async suspend(connection: ClientConnection, roomKeys: string[], canvasIds: string[]): Promise<void> {
    const initial = connection.closingBuffer ?? [];
    connection.closingBuffer = null;
    try {
      await this.store.suspend(toRecord(connection, canvasIds), roomKeys, Date.now() + this.options.reconnectTokenTtlMs, initial);
    } catch (err) {
      this.logger.warn(`session store unavailable, session not kept for resume: ${errorMessage(err)}`);
    }
  }

  /** Buffers a room message (with its cluster-unique id) for the away sessions that were in the room, but `sender`'s. */
  append(roomKey: string, id: string, frame: string, sender?: string): void {
    this.store.append(roomKey, id, frame, sender);
  }

  /** Takes what a session missed in its rooms and stops buffering for it. */
  takeMissed(sessionId: string, roomKeys: string[]): Promise<MissedMessages> {
    return this.store.takeMissed(sessionId, roomKeys);
  }

  /**
   * Persists a connection's credentials after a successful reauth (its new JWT's claims and
   * credential deadline), so a resume, on any instance and after a crash too, starts from them.
   * Fire and forget: a store outage is logged; the next activate or suspend writes them anyway.
   */
  updateCredentials(connection: ClientConnection): void {
    this.store.updateCredentials(connection.sessionId, credentialsOf(connection)).catch((err: unknown) => {
      this.logger.warn(`session store unavailable, reauth not yet recorded for resume: ${(err as Error).message}`);
    });
  }

  /**
   * Ends a session whose credential deadline passed while it was away (a resume with the
   * reconnect token alone came too late): removed from the store, `session.expired` published.
   * The caller has used the token up, so this runs once per session.
   */
  async expire(record: SessionRecord): Promise<void> {
    await this.end(record.sessionId);
    this.publishExpired(record);
  }

  private publishExpired(record: SessionRecord): void {
    this.events.publish(
      ConnectionManagerEvent.SessionExpired,
      new SessionExpiredEvent({ sessionId: record.sessionId, userId: record.userId, tenantId: record.tenantId, rooms: record.rooms }),
    );
  }

  /** Ends a session for good (logout, ban, a non-resumable close). */
  async end(sessionId: string): Promise<void> {
    try {
      await this.store.remove(sessionId);
    } catch (err) {
      this.logger.warn(`session store unavailable on session end: ${errorMessage(err)}`);
    }
  }
}

function toRecord(connection: ClientConnection, rooms: string[]): SessionRecord {
  const identity: Identity = connection.identity;
  // One literal with every field (absent claims undefined: a JSON store drops them): one object
  // shape, every property in-object (a record built by adding properties gets a separate
  // property store, and the in-memory store keeps one record per session).
  return {
    sessionId: connection.sessionId,
    userId: identity.userId,
    tenantId: identity.tenantId,
    connectionId: connection.id,
    rooms,
    awayUntil: 0,
    expiresAt: identity.expiresAt,
    credentialDeadline: connection.credentialDeadline,
    name: identity.name,
    canvases: identity.canvases === undefined ? undefined : [...identity.canvases],
  };
}

/** The part of the record the connection's last JWT gives (undefined claims left out). */
function credentialsOf(connection: ClientConnection): SessionCredentials {
  const identity: Identity = connection.identity;
  const credentials: SessionCredentials = { expiresAt: identity.expiresAt, credentialDeadline: connection.credentialDeadline };
  if (identity.name !== undefined) credentials.name = identity.name;
  if (identity.canvases !== undefined) credentials.canvases = [...identity.canvases];
  return credentials;
}

/** The identity a resumed session carries when no new JWT came with the reconnect token. */
export function identityOf(record: SessionRecord): Identity {
  // Same field order and set as the authenticator's identities (one object shape).
  return { userId: record.userId, tenantId: record.tenantId, name: record.name, canvases: record.canvases, expiresAt: record.expiresAt };
}
