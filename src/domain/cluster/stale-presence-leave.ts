import type { PresenceJoinFrame, PresenceLeaveFrame, PresenceMember } from '../../protocol/protocol.types.js';
import type { LocalRoom } from '../rooms/local-room.js';

/** How every presence_leave frame starts (PresenceLeaveFrame's first field, as JSON.stringify writes it). */
const LEAVE_PREFIX = '{"type":"presence_leave"';

/**
 * Cluster mode: the repair for a `presence_leave` another instance published that is stale here,
 * or undefined when the frame is not such a leave (docs/reliability.md, finding 11).
 *
 * A leave says "the user's last connection in the room is gone". If the user has a connection in
 * the room on this instance, that cannot be true now: a connection is attached locally only
 * after its seat is in the membership store, and detached before the seat is given back, so the
 * store counted this seat after the leave's script ran. The leave was computed earlier and
 * published late: each instance publishes its presence frame after its store script's reply, so
 * a slow leaver (a busy or draining instance, or the lease reap of a dead one) can publish after
 * the join of the user's new connection elsewhere (a resume). Clients apply `presence_leave` by
 * user, so delivering it would drop a connected user from their lists for good.
 *
 * The repair is the user's `presence_join`, as this instance knows the user (its own connections
 * in the room: `connections` is this instance's count, the same snapshot any presence frame is).
 * The caller does not deliver the stale leave here and publishes the repair on the room's bus:
 * on the room's channel it follows the stale leave, so clients of other instances, which got the
 * leave, list the user again (briefly seeing a leave, then a join). Every instance holding a
 * connection of the user sends one: a client may get the join more than once, which changes
 * nothing in its list.
 *
 * Cost on the cluster fan-out path: one prefix comparison per remote presence or host frame;
 * logged room messages are never looked at (the caller skips frames with a message id).
 */
export function staleLeaveRepair(room: LocalRoom | undefined, frame: string): PresenceJoinFrame | undefined {
  if (room === undefined || room.connections.size === 0 || !frame.startsWith(LEAVE_PREFIX)) return undefined;
  let userId: unknown;
  try {
    userId = (JSON.parse(frame) as Partial<PresenceLeaveFrame>).userId;
  } catch {
    return undefined;
  }
  let member: PresenceMember | undefined;
  for (const connection of room.connections) {
    if (connection.userId !== userId) continue;
    const name = connection.identity.name;
    member ??= name === undefined ? { userId: connection.userId, connections: 0 } : { userId: connection.userId, name, connections: 0 };
    member.connections++;
  }
  return member === undefined ? undefined : { type: 'presence_join', roomId: room.wireId, canvasId: room.canvasId, member };
}
