import type { PresenceMember } from '../../protocol/protocol.types.js';
import type { MembershipEntry, MembershipJoinResult, MembershipLeaveResult, MembershipStore } from '../../domain/ports/membership-store.port.js';
import { JOIN_LUA, LEAVE_LUA, RESYNC_LUA } from './membership.lua.js';
import { roomKeys, type RedisClient } from './redis-connections.js';

type Scripted = RedisClient & {
  cmJoin(k1: string, k2: string, k3: string, ...args: (string | number)[]): Promise<unknown[]>;
  cmLeave(k1: string, k2: string, k3: string, ...args: string[]): Promise<number[]>;
  cmResync(k1: string, k2: string, k3: string, ...args: string[]): Promise<string[]>;
};

function toMembers(users: string[], names: string[]): PresenceMember[] {
  const nameOf = new Map<string, string>();
  for (let i = 0; i + 1 < names.length; i += 2) nameOf.set(names[i]!, names[i + 1]!);
  const out: PresenceMember[] = [];
  for (let i = 0; i + 1 < users.length; i += 2) {
    const userId = users[i]!;
    const name = nameOf.get(userId);
    const connections = Number(users[i + 1]);
    out.push(name === undefined ? { userId, connections } : { userId, name, connections });
  }
  return out;
}

/**
 * Cluster-wide rooms on Redis. Capacity is enforced inside one Lua script (check and insert
 * are one step), so 150 simultaneous joins through any number of instances admit exactly
 * `capacity` distinct users. Each connection is recorded with its instance id, so the
 * connections of a crashed instance can be purged by the survivors (see ClusterCoordinator, through `resync`).
 * Failure mode: every method rejects while Redis is unreachable (no offline queue).
 */
export class RedisMembershipStore implements MembershipStore {
  private readonly redis: Scripted;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    private readonly instanceId: string,
  ) {
    redis.defineCommand('cmJoin', { numberOfKeys: 3, lua: JOIN_LUA });
    redis.defineCommand('cmLeave', { numberOfKeys: 3, lua: LEAVE_LUA });
    redis.defineCommand('cmResync', { numberOfKeys: 3, lua: RESYNC_LUA });
    this.redis = redis as Scripted;
  }

  async join(roomKey: string, entry: MembershipEntry, capacity: number): Promise<MembershipJoinResult> {
    const k = roomKeys(this.prefix, roomKey);
    const r = await this.redis.cmJoin(k.conns, k.users, k.names, entry.connectionId, this.instanceId, entry.userId, entry.name ?? '', capacity);
    if (Number(r[0]) === 0) return { ok: false, reason: 'full' };
    const members = toMembers(r[3] as string[], r[4] as string[]);
    const member = members.find((m) => m.userId === entry.userId)!;
    return { ok: true, alreadyJoined: Number(r[1]) === 1, firstConnectionOfUser: Number(r[2]) === 1, member, members };
  }

  async leave(roomKey: string, userId: string, connectionId: string): Promise<MembershipLeaveResult> {
    const k = roomKeys(this.prefix, roomKey);
    const r = await this.redis.cmLeave(k.conns, k.users, k.names, connectionId, userId);
    return { removed: Number(r[0]) === 1, lastConnectionOfUser: Number(r[1]) === 1 };
  }

  async members(roomKey: string): Promise<PresenceMember[]> {
    const k = roomKeys(this.prefix, roomKey);
    const [users, names] = await Promise.all([this.redis.hgetall(k.users), this.redis.hgetall(k.names)]);
    return toMembers(Object.entries(users).flat(), Object.entries(names).flat());
  }

  /**
   * Makes `instanceId`'s part of a room equal to `live` (connection, user, name). Returns the
   * users that left the room entirely (others must see presence_leave for them).
   */
  async resync(roomKey: string, instanceId: string, live: MembershipEntry[]): Promise<string[]> {
    const k = roomKeys(this.prefix, roomKey);
    const args = live.flatMap((e) => [e.connectionId, e.userId, e.name ?? '']);
    return this.redis.cmResync(k.conns, k.users, k.names, instanceId, ...args);
  }
}
