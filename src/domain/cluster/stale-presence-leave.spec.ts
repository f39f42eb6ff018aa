import { describe, expect, it } from 'vitest';
import type { ClientConnection } from '../connections/client-connection.js';
import { LocalRoom } from '../rooms/local-room.js';
import { staleLeaveRepair } from './stale-presence-leave.js';

/** A room here holding connections of the given users (only what the repair reads of a connection). */
function roomWith(...users: Array<{ userId: string; name?: string }>): LocalRoom {
  const room = new LocalRoom('t1\u0000r', 't1', 'r', 'canvas:r');
  for (const u of users) room.connections.add({ userId: u.userId, identity: { name: u.name } } as unknown as ClientConnection);
  return room;
}
const leaveOf = (userId: string) => JSON.stringify({ type: 'presence_leave', roomId: 'canvas:r', canvasId: 'r', userId });

describe('staleLeaveRepair (finding 11)', () => {
  it('a leave of a user who still has connections in the room here is stale: repaired with their join, counting them', () => {
    const room = roomWith({ userId: 'u1', name: 'Ann' }, { userId: 'u2' }, { userId: 'u1', name: 'Ann' });
    expect(staleLeaveRepair(room, leaveOf('u1'))).toEqual({
      type: 'presence_join',
      roomId: 'canvas:r',
      canvasId: 'r',
      member: { userId: 'u1', name: 'Ann', connections: 2 },
    });
    expect(staleLeaveRepair(room, leaveOf('u2'))).toEqual({
      type: 'presence_join',
      roomId: 'canvas:r',
      canvasId: 'r',
      member: { userId: 'u2', connections: 1 },
    });
  });

  it('a leave of a user with no connection in the room here is delivered as it is', () => {
    expect(staleLeaveRepair(roomWith({ userId: 'u2' }), leaveOf('u1'))).toBeUndefined();
    expect(staleLeaveRepair(roomWith(), leaveOf('u1'))).toBeUndefined();
    expect(staleLeaveRepair(undefined, leaveOf('u1'))).toBeUndefined();
  });

  it('other frames are never touched, whatever they contain', () => {
    const room = roomWith({ userId: 'u1' });
    const join = JSON.stringify({ type: 'presence_join', roomId: 'canvas:r', canvasId: 'r', member: { userId: 'u1', connections: 1 } });
    const message = JSON.stringify({ type: 'message', roomId: 'canvas:r', canvasId: 'r', data: { type: 'presence_leave', userId: 'u1' } });
    for (const frame of [join, message, '{"type":"presence_leave"', 'not json']) expect(staleLeaveRepair(room, frame)).toBeUndefined();
  });
});
