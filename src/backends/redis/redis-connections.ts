import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** Either a single Redis or a Redis Cluster; both run the same commands and scripts. */
export type RedisClient = Redis | Cluster;

/** The two connections cluster mode needs: commands, and (sharded) subscriptions. */
export interface RedisConnections {
  command: RedisClient;
  subscriber: RedisClient;
  /** True for a Redis Cluster (sharded pub/sub and hash-tagged keys are required there). */
  cluster: boolean;
}

/** Injection token of {@link RedisConnections}; undefined when the module runs in memory. */
export const REDIS_CONNECTIONS = Symbol('REDIS_CONNECTIONS');

/**
 * Fail fast while Redis is down instead of queueing: a join then answers UNAVAILABLE at once
 * and memory cannot grow with queued commands. ioredis reconnects by itself (backoff capped
 * at 2 s) and resubscribes its channels when Redis is back.
 */
const COMMON: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(100 * times, 2000),
  lazyConnect: false,
};

export function createRedisConnections(url: string | undefined, clusterNodes: string[] | undefined): RedisConnections {
  if (clusterNodes && clusterNodes.length > 0) {
    const nodes = clusterNodes.map((hp) => {
      const [host, port] = hp.split(':');
      return { host, port: Number(port) };
    });
    const options = { enableOfflineQueue: false, redisOptions: COMMON, clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000) };
    return {
      // No auto-pipelining, as for a single Redis (below).
      command: new Cluster(nodes, options),
      subscriber: new Cluster(nodes, { ...options, enableOfflineQueue: true, shardedSubscribers: true }),
      cluster: true,
    };
  }
  // No auto-pipelining (ioredis's default): a room message is one command (one script), and
  // messages mostly arrive one per event-loop turn, so ioredis's per-turn pipeline was pure
  // overhead: with it, one instance on Redis cost 1.62-1.72x in-memory per delivery; without,
  // 1.23-1.24x (bench, cluster scenario, alternating runs, 2026-12-03).
  const command = new Redis(url!, COMMON);
  // The subscriber queues its (re)subscriptions while offline: they are few and idempotent.
  const subscriber = new Redis(url!, { ...COMMON, enableOfflineQueue: true, maxRetriesPerRequest: null });
  return { command, subscriber, cluster: false };
}

/** Keys of one room share a hash slot (`{…}`), so a script can touch them all on a cluster. */
export function roomKeys(prefix: string, roomKey: string): { conns: string; users: string; names: string; away: string; channel: string } {
  const tag = `${prefix}:{${roomKey}}`;
  return { conns: `${tag}:conns`, users: `${tag}:users`, names: `${tag}:names`, away: `${tag}:away`, channel: `${tag}:bus` };
}

/**
 * An instance's marker channel of a room (see RedisRoomBus): in the room's slot, subscribed with
 * the room's channel and never published to, so the log script can count that instance's
 * subscription (LOG_PUBLISH_LUA).
 */
export function busMarkerChannel(channel: string, instanceId: string): string {
  return `${channel}:${instanceId}`;
}
