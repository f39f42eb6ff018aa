import type { PresenceMember } from '../../protocol/protocol.types.js';

/** One connection's seat in a room. */
export interface MembershipEntry {
  userId: string;
  connectionId: string;
  /** Display name shown in presence (latest one wins for a user). */
  name?: string;
}

export type MembershipJoinResult =
  | {
      ok: true;
      /** The connection was already in the room: nothing changed. */
      alreadyJoined: boolean;
      /** The user had no other connection in the room before this one. */
      firstConnectionOfUser: boolean;
      /** The joiner's presence entry after the join. */
      member: PresenceMember;
      /** Presence of the whole room right after the join, taken atomically with it. */
      members: PresenceMember[];
    }
  | { ok: false; reason: 'full' };

export interface MembershipLeaveResult {
  /** False when the connection was not in the room. */
  removed: boolean;
  /** The user has no connection left in the room. */
  lastConnectionOfUser: boolean;
}

/**
 * Room membership and presence, the one source of truth for capacity.
 * The in-memory store serves one instance; a shared (Redis) store makes rooms cluster-wide.
 * `join` must be atomic: the capacity check and the insert happen as one step, so concurrent
 * joins never exceed `capacity` distinct users.
 * Failure mode: a shared store rejects with an error when its backend is unreachable; callers
 * answer UNAVAILABLE and keep the connection.
 */
export interface MembershipStore {
  join(roomKey: string, entry: MembershipEntry, capacity: number): Promise<MembershipJoinResult>;
  leave(roomKey: string, userId: string, connectionId: string): Promise<MembershipLeaveResult>;
  members(roomKey: string): Promise<PresenceMember[]>;
  /**
   * Makes `instanceId`'s part of a room hold exactly `live` (connections admitted before: no
   * capacity check). Used by cluster coordination: `[]` purges a dead instance, the live list
   * re-registers this instance after an outage. Returns the users who left the room entirely
   * (the others must see presence_leave for them). A single-instance store owns every entry.
   */
  resync(roomKey: string, instanceId: string, live: MembershipEntry[]): Promise<string[]>;
}

/** Injection token of the {@link MembershipStore} (same name, as in @nestjs/throttler). */
export const MembershipStore = Symbol('MembershipStore');
