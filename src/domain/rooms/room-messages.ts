import { Inject, Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../../kernel/error-message.js';
import { ErrorCode, type AckFrame, type ErrorFrame, type RequestId } from '../../protocol/protocol.types.js';
import type { ClientConnection } from '../connections/client-connection.js';
import { ConnectionService } from '../connections/connection.service.js';
import { RoomLog, type LogAppendResult } from '../ports/room-log.port.js';
import { SessionService } from '../sessions/session.service.js';
import { RoomDelivery } from './room-delivery.js';

/** A room message to publish (see {@link RoomService.publish}). */
export interface RoomMessage {
  roomKey: string;
  /** The frame after its opening `{"type":"message","pos":"<pos>",`: the room log writes the position in. */
  frameTail: string;
  /** The sending connection: neither it nor any connection of its session gets the message. */
  senderConnectionId?: string;
  /** The message's `seq` (acknowledged idempotent publish), when it had one. */
  seq?: number;
  /** The frame's `id`, echoed on its `ack` or error. */
  requestId?: RequestId;
}

/**
 * The room message path: the room log, delivery and acknowledged idempotent publish (issue 16).
 * RoomService.publish is its public face.
 */
@Injectable()
export class RoomMessages {
  private readonly logger = new Logger(RoomMessages.name);

  constructor(
    @Inject(RoomLog) private readonly log: RoomLog,
    private readonly delivery: RoomDelivery,
    private readonly sessions: SessionService,
    private readonly connections: ConnectionService,
  ) {}

  /**
   * Publishes a room message: appended to the room's log (which gives it its position), then
   * delivered to every connection of the room but the sender's session's, on every instance,
   * and kept for the room's away sessions. In memory the log is here and this runs synchronously;
   * in cluster mode one Redis script appends and publishes, and every instance (this one
   * included) delivers on the bus, in log order; when no other instance has members of the room
   * the script does not publish, and this instance delivers from its reply (`deliverHere`).
   *
   * With a `seq` (acknowledged idempotent publish): a `seq` the session already had accepted in
   * the room is a resend, answered `ack` and not delivered again; otherwise the sender gets `ack`
   * once the message is in the log (and, in memory, delivered). If the log is unreachable
   * (cluster mode, Redis down) a message with `seq` is answered UNAVAILABLE and not delivered
   * (the client may send it again); one without `seq` is delivered to this instance's members
   * only, without a position (fire and forget, as before logs existed).
   */
  publish(message: RoomMessage): void {
    // One lookup serves the sender's identity, the resend check and the ack. The sender is its
    // session, so that no connection of that session gets the message back (its resumed
    // connection included, here or on another instance); the connection id itself when it names
    // no open connection here.
    const connection = message.senderConnectionId === undefined ? undefined : this.connections.get(message.senderConnectionId);
    const sender = connection?.sessionId ?? message.senderConnectionId;
    if (message.seq !== undefined && connection !== undefined && message.seq <= connection.lastSeq) {
      this.acknowledge(connection, message);
      return;
    }
    let result: LogAppendResult | Promise<LogAppendResult>;
    try {
      result = this.log.append({ roomKey: message.roomKey, sender, seq: message.seq, frameTail: message.frameTail });
    } catch (err) {
      this.logUnavailable(message, connection, sender, err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (r) => this.accepted(message, connection, sender, r),
        (err: unknown) => this.logUnavailable(message, connection, sender, err),
      );
    } else this.accepted(message, connection, sender, result);
  }

  /** `connection` may have closed meanwhile (cluster mode): an ack to it then goes nowhere, as before. */
  private accepted(message: RoomMessage, connection: ClientConnection | undefined, sender: string | undefined, result: LogAppendResult): void {
    if (result.appended && !this.log.deliversItself) {
      this.sessions.append(message.roomKey, result.pos, result.frame, sender);
      this.delivery.deliver(message.roomKey, result.frame, sender, result.pos);
    } else if (result.appended && result.deliverHere === true) {
      // Cluster mode, no other instance has members: the log did not publish it (LOG_PUBLISH_LUA).
      this.delivery.deliverLogged(message.roomKey, result.frame, sender, result.pos);
    }
    if (message.seq !== undefined && connection) this.acknowledge(connection, message);
  }

  private acknowledge(connection: ClientConnection, message: RoomMessage): void {
    const seq = message.seq!;
    if (seq > connection.lastSeq) connection.lastSeq = seq;
    const ack: AckFrame = message.requestId === undefined ? { type: 'ack', seq } : { type: 'ack', seq, id: message.requestId };
    connection.sendFrame(ack);
  }

  private logUnavailable(message: RoomMessage, connection: ClientConnection | undefined, sender: string | undefined, err: unknown): void {
    this.logger.warn(`room log unavailable, message ${message.seq === undefined ? 'delivered here only' : 'refused'}: ${errorMessage(err)}`);
    if (message.seq === undefined) {
      this.delivery.deliver(message.roomKey, `{"type":"message",${message.frameTail}`, sender);
      return;
    }
    if (!connection) return;
    const frame: ErrorFrame = { type: 'error', code: ErrorCode.UNAVAILABLE, message: 'the room log is unavailable, send again later', seq: message.seq };
    if (message.requestId !== undefined) frame.id = message.requestId;
    connection.sendFrame(frame);
  }
}
