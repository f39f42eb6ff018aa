import { Inject, Injectable, Optional } from '@nestjs/common';
import { RoomBus } from '../ports/room-bus.port.js';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { ConnectionService } from '../connections/connection.service.js';
import type { ClientConnection } from '../connections/client-connection.js';
import { TEXT_FRAME } from '../ports/socket.port.js';
import { WriteBatch, type BroadcastWrite, type EncodedFrame } from '../ports/write-batch.port.js';
import { LocalRoomRegistry } from './local-room.registry.js';
import { atOrBelow, RoomLog } from '../ports/room-log.port.js';
import { LogOrder, type LogOrderStats } from './log-order.js';
import { staleLeaveRepair } from '../cluster/stale-presence-leave.js';
import { idTag } from '../connections/id-tag.js';

/**
 * Whether a logged message is at or below the position a resumed connection already has in that
 * room (see ClientConnection.replayFloors); the first message above it lifts the room's floor.
 */
function alreadyReplayed(connection: ClientConnection, roomKey: string, pos: string): boolean {
  const floors = connection.replayFloors!;
  const floor = floors.get(roomKey);
  if (floor === undefined) return false;
  if (atOrBelow(pos, floor)) return true;
  connection.dropReplayFloor(roomKey);
  return false;
}

/** One recipient of a broadcast, for {@link RoomDelivery}'s general path. */
interface OneDelivery {
  connection: ClientConnection;
  key: string;
  text: string;
  bytes: Buffer;
  encoded: EncodedFrame | undefined;
  messageId: string | undefined;
  /** How the broadcast writes (see {@link HoldRule}). */
  write: BroadcastWrite;
}

/**
 * Which broadcasts hold their recipients' writes to the end of the turn: every one (`always`:
 * presence and the host's broadcasts, which come in waves), or as WriteBatch.broadcastWrite
 * decides for the room (`whenBusy`: room messages; a trickle is written at once).
 */
type HoldRule = 'always' | 'whenBusy';

/** Counters of the broadcast path, read at scrape time (no per-frame metric calls). */
export interface DeliveryStats {
  /** Broadcasts that reached this instance's part of a room. */
  broadcasts: number;
  /** Frames written to sockets by broadcasts. */
  delivered: number;
  /** Connections closed with 1013 for exceeding maxBufferedBytes, whatever frame found them over it. */
  readonly slowConsumerCloses: number;
  /** Cluster mode: stale presence_leave frames from other instances not delivered here, and repaired (see staleLeaveRepair). */
  staleLeavesRepaired: number;
  /** Cluster mode: gaps of logged messages read from the log, and left (LogOrder); undefined in memory. */
  readonly order: Readonly<LogOrderStats> | undefined;
}

/**
 * The broadcast path: one frame to every connection of a room on this instance. This is the
 * hot path of fan-out, so it does the least per recipient: the frame is serialized and turned
 * into bytes once, and each recipient gets the same Buffer (ws frames it without copying the
 * payload). No promise, no event and no closure per recipient. Writes go through the
 * {@link WriteBatch}: a room's first message of a turn ({@link deliver}) reaches each recipient's
 * socket at once and the rest of the turn's as one more merged write (a room busy the turn before
 * is held from its first message: one write per turn); presence and host broadcasts
 * ({@link deliverBurst}) are held from the first frame, one write per turn.
 *
 * Backpressure: a recipient with more than `maxBufferedBytes` unsent is a slow consumer; it is
 * closed with 1013 (resumable: it gets what it missed after the close on resume) instead of
 * letting its buffer, and the instance's memory, grow without bound. The check is the one
 * every send to a connection goes through (ConnectionService.admitSend); for most recipients the
 * transport makes it in the same call as the write ({@link WriteBatch.offer}), and a recipient it
 * refuses takes the general path, which decides.
 */
@Injectable()
export class RoomDelivery {
  readonly stats: DeliveryStats;
  /** Cluster mode: puts a room's logged messages in log order, whichever way they came in. */
  private readonly order: LogOrder | undefined;
  private readonly maxClosingMessages: number;
  private readonly maxBufferedBytes: number;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) options: ResolvedConnectionManagerOptions,
    private readonly local: LocalRoomRegistry,
    private readonly connections: ConnectionService,
    @Optional() @Inject(RoomBus) bus?: RoomBus,
    @Optional() @Inject(WriteBatch) private readonly batch?: WriteBatch,
    @Optional() @Inject(RoomLog) log?: RoomLog,
  ) {
    this.order = log?.deliversItself
      ? new LogOrder({
          room: (key) => local.get(key),
          readAfter: (key, after) => log.readAfter(key, after, ''),
          deliver: (key, frame, except, pos) => this.fanOut(key, frame, except, pos, 'whenBusy'),
          maxPending: options.resumeBufferMessages,
        })
      : undefined;
    this.stats = {
      broadcasts: 0,
      delivered: 0,
      staleLeavesRepaired: 0,
      get slowConsumerCloses() {
        return connections.slowConsumerCloses;
      },
      order: this.order?.stats,
    };
    this.maxClosingMessages = options.resumeBufferMessages;
    this.maxBufferedBytes = options.maxBufferedBytes;
    // Frames other instances published to rooms with members here.
    bus?.onRemoteFrame((key, frame, except, messageId) => {
      if (messageId !== undefined) this.deliverLogged(key, frame, except, messageId);
      else if (!this.repairedStaleLeave(bus, key, frame)) this.deliver(key, frame, except);
    });
  }

  /**
   * A presence_leave from another instance naming a user who has a connection in the room here is
   * stale (finding 11, see staleLeaveRepair): it is not delivered, and the user's presence_join is
   * published on the room's bus instead. Returns whether the frame was such a leave.
   */
  private repairedStaleLeave(bus: RoomBus, key: string, frame: string): boolean {
    const repair = staleLeaveRepair(this.local.get(key), frame);
    if (repair === undefined) return false;
    bus.publish(key, JSON.stringify(repair), undefined, undefined);
    this.stats.staleLeavesRepaired++;
    return true;
  }

  /**
   * Delivers to this instance's connections of `key`; returns how many got it. `except` is a
   * connection id or a session id (see RoomMessages.publish): no connection it names gets the frame.
   * `messageId` marks a logged room message: it is the message's position (see RoomService.publish).
   */
  deliver(key: string, frame: object | string, except?: string, messageId?: string): number {
    return this.fanOut(key, frame, except, messageId, 'whenBusy');
  }

  /**
   * {@link deliver} for a logged room message at position `pos`: in cluster mode through the
   * room's {@link LogOrder} (in log order, none twice, a gap read from the log), in memory at once
   * (the log is in the process: call order is log order).
   */
  deliverLogged(key: string, frame: string, except: string | undefined, pos: string): void {
    if (this.order !== undefined) this.order.offer(key, frame, except, pos);
    else this.fanOut(key, frame, except, pos, 'whenBusy');
  }

  /**
   * {@link deliver} for frames that come with membership changes (presence, the host's own
   * broadcasts): these arrive in bursts (a wave of joins lands many in one turn), so every
   * recipient is corked from the first frame and a turn's frames leave in one write per socket.
   * Room messages keep {@link deliver}'s rule, which writes a trickle at once.
   */
  deliverBurst(key: string, frame: object | string, except?: string): number {
    return this.fanOut(key, frame, except, undefined, 'always');
  }

  private fanOut(key: string, frame: object | string, except: string | undefined, messageId: string | undefined, rule: HoldRule): number {
    const room = this.local.get(key);
    if (!room) return 0;
    // Logged messages arrive in log order: the room's position is the last one delivered.
    if (messageId !== undefined) room.lastPos = messageId;
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    const bytes = Buffer.from(text);
    const batch = this.batch;
    const encoded = batch?.encode(bytes);
    // Decided once per broadcast, for the room: nothing per recipient when nothing is held.
    const write: BroadcastWrite = batch === undefined ? 'now' : rule === 'always' ? 'held' : batch.broadcastWrite(room);
    const maxBuffered = this.maxBufferedBytes;
    // The recipients `except` names are found by fingerprint first (see id-tag.ts): no string read per recipient.
    const exceptTag = except === undefined ? -1 : idTag(except);
    let n = 0;
    for (const connection of room.connections) {
      if (exceptTag >= 0 && connection.isNamedBy(except!, exceptTag)) continue;
      if (connection.replayFloors !== null && messageId !== undefined && alreadyReplayed(connection, key, messageId)) continue;
      // Most recipients: open, within budget, no resume in progress: one call of the transport.
      if (encoded !== undefined && connection.held === null && !connection.closed && batch!.offer(connection.socket, encoded, maxBuffered, write)) n++;
      else if (this.sendOne({ connection, key, text, bytes, encoded, messageId, write })) n++;
    }
    this.stats.broadcasts++;
    this.stats.delivered += n;
    return n;
  }

  /**
   * One recipient the fast path left: closing, over its budget (admitSend writes out held bytes,
   * then closes a slow consumer), held while its resume is set up, or a socket the transport
   * writes through ws's own `send`. Returns whether the frame went to it (or into its held list).
   */
  private sendOne(delivery: OneDelivery): boolean {
    const { connection, key, messageId } = delivery;
    if (!connection.isOpen || !this.connections.admitSend(connection)) {
      // Closing (or closed just now as a slow consumer) but not yet cleaned up: keep
      // replayable messages for its session, so a resume gets them.
      if (messageId !== undefined && !connection.closed && connection.resumable) this.keepWhileClosing(connection, key, messageId, delivery.text);
      return false;
    }
    const socket = connection.socket;
    const batch = this.batch;
    if (connection.held !== null) connection.held.push({ id: messageId, roomKey: key, bytes: delivery.bytes });
    else if (batch === undefined || delivery.encoded === undefined) socket.send(delivery.bytes, TEXT_FRAME);
    else {
      if (delivery.write === 'held') batch.hold(socket);
      batch.write(socket, delivery.encoded);
    }
    return true;
  }

  private keepWhileClosing(connection: ClientConnection, roomKey: string, id: string, frame: string): void {
    const buffer = (connection.closingBuffer ??= []);
    buffer.push({ roomKey, id, frame });
    if (buffer.length > this.maxClosingMessages) buffer.shift();
  }
}
