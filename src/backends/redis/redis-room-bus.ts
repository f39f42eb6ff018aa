import { Logger } from '@nestjs/common';
import type { RoomBus } from '../../domain/ports/room-bus.port.js';
import type { RedisConnections } from './redis-connections.js';
import { busMarkerChannel, roomKeys } from './redis-connections.js';

/**
 * Room fan-out across instances over Redis sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7):
 * one channel per room, `{prefix}:{roomKey}:bus`, in the room's hash slot. An instance
 * subscribes to a room's channel only while it has local members, so an instance without
 * members of a room receives none of its traffic. Per publisher, Redis keeps the order.
 *
 * With the room's channel the instance subscribes, in the same command, to its own marker
 * channel `{prefix}:{roomKey}:bus:<instanceId>`, on which nothing is published: the room log's
 * script counts the marker's subscribers to tell this instance's subscription from the others'
 * (LOG_PUBLISH_LUA). ioredis resubscribes channel by channel in the order they were added, so
 * the marker is not registered without the room's channel. On a Redis Cluster both are in the
 * room's slot, on its master (ioredis's sharded subscribers connect to the masters).
 *
 * Envelope: `instanceId \n except \n messageId \n frame`. An instance skips its own plain frames
 * (presence: it delivered them locally already) but not its own room messages (messageId = their
 * position): those are published by the room log's script (RedisRoomLog) when another instance
 * has members of the room, and every instance, the writer included, delivers them from here.
 * When no other instance has, the script does not publish and the writer delivers its message
 * from the script's reply; RoomDelivery puts both ways in back in log order.
 * Failure mode: while Redis is down, publishes are dropped (local members still get every
 * plain frame); ioredis resubscribes when it is back.
 */
export class RedisRoomBus implements RoomBus {
  private readonly logger = new Logger(RedisRoomBus.name);
  private readonly channelToRoom = new Map<string, string>();
  private handler: (roomKey: string, frame: string, except: string | undefined, messageId: string | undefined) => void = () => undefined;

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
    return this.redis.subscriber.ssubscribe(channel, busMarkerChannel(channel, this.instanceId)).then(
      () => undefined,
      (err: Error) => this.logger.warn(`ssubscribe failed: ${err.message}`),
    );
  }

  unsubscribe(roomKey: string): void {
    const { channel } = roomKeys(this.prefix, roomKey);
    this.channelToRoom.delete(channel);
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

  private onMessage(channel: string, message: string): void {
    const roomKey = this.channelToRoom.get(channel);
    if (roomKey === undefined) return;
    const a = message.indexOf('\n');
    const b = message.indexOf('\n', a + 1);
    const c = message.indexOf('\n', b + 1);
    if (a < 0 || b < 0 || c < 0) return;
    const id = message.slice(b + 1, c);
    if (id === '' && message.slice(0, a) === this.instanceId) return;
    const except = message.slice(a + 1, b);
    this.handler(roomKey, message.slice(c + 1), except === '' ? undefined : except, id === '' ? undefined : id);
  }
}
