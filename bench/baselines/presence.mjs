// Presence bookkeeping shared by the baselines: per room, one member entry per
// user with a count of that user's connections in the room (what the product's
// presence_state reports).
export class Presence {
  constructor() { this.rooms = new Map(); } // roomKey -> Map(userId -> member)

  /** Add one connection of `user`; returns the member entry (after increment). */
  add(roomKey, user) {
    let members = this.rooms.get(roomKey);
    if (!members) { members = new Map(); this.rooms.set(roomKey, members); }
    let m = members.get(user.userId);
    if (!m) { m = { userId: user.userId, name: user.name, connections: 0 }; members.set(user.userId, m); }
    m.connections++;
    return m;
  }

  /** Remove one connection; returns {member, left} where left=true when the user's last connection went. */
  remove(roomKey, userId) {
    const members = this.rooms.get(roomKey);
    const m = members?.get(userId);
    if (!m) return null;
    m.connections--;
    const left = m.connections === 0;
    if (left) members.delete(userId);
    if (members.size === 0) this.rooms.delete(roomKey);
    return { member: m, left };
  }

  members(roomKey) { return [...(this.rooms.get(roomKey)?.values() ?? [])]; }
}
