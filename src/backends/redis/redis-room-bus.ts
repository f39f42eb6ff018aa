import { Logger } from '@nestjs/common';
import type { RoomBus } from '../../domain/ports/room-bus.port.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';
import { roomKeys } from './redis-connections.js';
import { PUBLISH_MESSAGE_LUA } from './session.lua.js';

/** The replay bounds the message script applies (the session store's: see RedisSessionStore). */
export interface ReplayBounds {
  maxMessages: number;
  maxBytes: number;
  ttlMs: number;
}

type Scripted = RedisClient & {
  cmPublishMessage(k1: string, k2: string, ...args: (string | number)[]): Promise<number>;
};

/**
 * Room fan-out across instances over Redis sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7):
 * one channel per room, `{prefix}:{roomKey}:bus`, in the room's hash slot. An instance
 * subscribes to a room's channel only while it has local members, so an instance without
 * members of a room receives none of its traffic. Per publisher, Redis keeps the order.
 *
 * Envelope: `instanceId \n exceptConnectionId \n messageId \n frame`; an instance skips its own frames
 * (it delivered them locally already). Failure mode: while Redis is down, publishes are
 * dropped (local members still get every frame); ioredis resubscribes when it is back.
 *
 * A room message (replayable, with an id) is one script, {@link PUBLISH_MESSAGE_LUA}: the
 * SPUBLISH and the append to the room's away sessions' replay buffers (the session store's
 * keys and bounds, same hash slot), instead of two commands per message.
 */
export class RedisRoomBus implements RoomBus {
  private readonly logger = new Logger(RedisRoomBus.name);
  private readonly channelToRoom = new Map<string, string>();
  private handler: (roomKey: string, frame: string, except: string | undefined, messageId: string | undefined) => void = () => undefined;

  private readonly command: Scripted;

  constructor(
    private readonly redis: RedisConnections,
    private readonly prefix: string,
    private readonly instanceId: string,
    private readonly replay: ReplayBounds,
  ) {
    redis.command.defineCommand('cmPublishMessage', { numberOfKeys: 2, lua: PUBLISH_MESSAGE_LUA });
    this.command = redis.command as Scripted;
    redis.subscriber.on('smessage', (channel: string, message: string) => this.onMessage(channel, message));
  }

  subscribe(roomKey: string): void {
    const { channel } = roomKeys(this.prefix, roomKey);
    this.channelToRoom.set(channel, roomKey);
    this.redis.subscriber.ssubscribe(channel).catch((err: Error) => this.logger.warn(`ssubscribe failed: ${err.message}`));
  }

  unsubscribe(roomKey: string): void {
    const { channel } = roomKeys(this.prefix, roomKey);
    this.channelToRoom.delete(channel);
    this.redis.subscriber.sunsubscribe(channel).catch((err: Error) => this.logger.warn(`sunsubscribe failed: ${err.message}`));
  }

  publish(roomKey: string, frame: string, except: string | undefined, messageId: string | undefined): void {
    const { channel } = roomKeys(this.prefix, roomKey);
    this.redis.command.spublish(channel, `${this.instanceId}\n${except ?? ''}\n${messageId ?? ''}\n${frame}`).catch(() => undefined);
  }

  publishMessage(roomKey: string, frame: string, sender: string | undefined, messageId: string): void {
    const { channel } = roomKeys(this.prefix, roomKey);
    const tag = `${this.prefix}:{${roomKey}}`;
    const { maxMessages, maxBytes, ttlMs } = this.replay;
    this.command
      .cmPublishMessage(
        `${tag}:away`,
        `${tag}:awaybytes`,
        `${tag}:missed:`,
        `${tag}:trunc:`,
        messageId,
        frame,
        maxMessages,
        maxBytes,
        ttlMs,
        sender ?? '',
        channel,
        `${this.instanceId}\n${sender ?? ''}\n${messageId}\n`,
      )
      .catch(() => undefined);
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
    if (a < 0 || b < 0 || c < 0 || message.slice(0, a) === this.instanceId) return;
    const except = message.slice(a + 1, b);
    const id = message.slice(b + 1, c);
    this.handler(roomKey, message.slice(c + 1), except === '' ? undefined : except, id === '' ? undefined : id);
  }
}
