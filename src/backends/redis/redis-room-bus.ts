import { Logger } from '@nestjs/common';
import type { RoomBus } from '../../domain/ports/room-bus.port.js';
import type { RedisConnections } from './redis-connections.js';
import { busMarkerChannel, roomKeys } from './redis-connections.js';
import { LogOrderBuffer } from './log-order-buffer.js';

/**
 * Room fan-out across instances over Redis sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7):
 * one channel per room, `{prefix}:{roomKey}:bus`, in the room's hash slot. An instance
 * subscribes to a room's channel only while it has local members, so an instance without
 * members of a room receives none of its traffic. Per publisher, Redis keeps the order.
 *
 * With the room's channel the instance subscribes, in the same command, to its own marker
 * channel `{prefix}:{roomKey}:bus:<instanceId>`, on which nothing is published: the room log's
 * script counts the marker's subscribers to tell this instance's subscription from the others'
 * (see LOG_PUBLISH_LUA). After a reconnect ioredis resubscribes them in the order they were
 * added (a single Redis) or in one command per slot (a Redis Cluster), so the marker is never
 * registered without the room's channel. The other way round, for a moment, the writer gets its
 * message both from the bus and from the script; the order buffer drops the second.
 *
 * Envelope: `instanceId \n except \n messageId \n frame`. An instance skips its own plain frames
 * (presence: it delivered them locally already) but not its own room messages (messageId = their
 * position): those are published by the room log's script (RedisRoomLog) when another instance
 * has members of the room, and then every instance, the writer included, delivers them from
 * here. When nobody else has, the script does not publish and the writer delivers its message
 * from the script's reply ({@link deliverOwn}). Either way a room's messages go through one
 * {@link LogOrderBuffer}, so each instance delivers them in log order.
 * Failure mode: while Redis is down, publishes are dropped (local members still get every
 * plain frame); ioredis resubscribes when it is back.
 */
export class RedisRoomBus implements RoomBus {
  private readonly logger = new Logger(RedisRoomBus.name);
  private readonly channelToRoom = new Map<string, string>();
  /** Rooms subscribed (or being subscribed) to, by room key. */
  private readonly subscribed = new Set<string>();
  private handler: (roomKey: string, frame: string, except: string | undefined, messageId: string | undefined) => void = () => undefined;
  private readonly logged = new LogOrderBuffer((roomKey, frame, except, pos) => this.handler(roomKey, frame, except, pos));

  constructor(
    private readonly redis: RedisConnections,
    private readonly prefix: string,
    private readonly instanceId: string,
  ) {
    redis.subscriber.on('smessage', (channel: string, message: string) => this.onMessage(channel, message));
  }

  subscribe(roomKey: string): Promise<void> {
    const { channel } = roomKeys(this.prefix, roomKey);
    this.channelToRoom.set(channel, roomKey);
    this.subscribed.add(roomKey);
    this.logged.forget(roomKey);
    return this.redis.subscriber.ssubscribe(channel, busMarkerChannel(channel, this.instanceId)).then(
      () => undefined,
      (err: Error) => this.logger.warn(`ssubscribe failed: ${err.message}`),
    );
  }

  unsubscribe(roomKey: string): void {
    const { channel } = roomKeys(this.prefix, roomKey);
    this.channelToRoom.delete(channel);
    this.subscribed.delete(roomKey);
    this.logged.forget(roomKey);
    this.redis.subscriber
      .sunsubscribe(channel, busMarkerChannel(channel, this.instanceId))
      .catch((err: Error) => this.logger.warn(`sunsubscribe failed: ${err.message}`));
  }

  publish(roomKey: string, frame: string, except: string | undefined, messageId: string | undefined): void {
    const { channel } = roomKeys(this.prefix, roomKey);
    this.redis.command.spublish(channel, `${this.instanceId}\n${except ?? ''}\n${messageId ?? ''}\n${frame}`).catch(() => undefined);
  }

  onRemoteFrame(handler: (roomKey: string, frame: string, except: string | undefined, messageId: string | undefined) => void): void {
    this.handler = handler;
  }

  /**
   * A room message this instance appended and the script did not publish to it (nobody else had
   * members of the room, or this instance's subscription was not registered): delivered here, in
   * log order with what the bus brings. `except` is the sender's session ('' for none).
   */
  deliverOwn(roomKey: string, message: { epoch: string; n: number; frame: string; except: string }): void {
    if (!this.subscribed.has(roomKey)) return;
    const pos = `${message.epoch}.${message.n}`;
    this.logged.offer(roomKey, { epoch: message.epoch, n: message.n, pos, frame: message.frame, except: message.except === '' ? undefined : message.except });
  }

  private onMessage(channel: string, message: string): void {
    const roomKey = this.channelToRoom.get(channel);
    if (roomKey === undefined) return;
    const a = message.indexOf('\n');
    const b = message.indexOf('\n', a + 1);
    const c = message.indexOf('\n', b + 1);
    if (a < 0 || b < 0 || c < 0) return;
    const id = message.slice(b + 1, c);
    if (id === '' && message.slice(0, a) === this.instanceId) return;
    const except = message.slice(a + 1, b) || undefined;
    if (id === '') {
      this.handler(roomKey, message.slice(c + 1), except, undefined);
      return;
    }
    const dot = id.indexOf('.');
    const n = Number(id.slice(dot + 1));
    if (dot <= 0 || !Number.isSafeInteger(n)) this.handler(roomKey, message.slice(c + 1), except, id);
    else this.logged.offer(roomKey, { epoch: id.slice(0, dot), n, pos: id, frame: message.slice(c + 1), except });
  }
}
