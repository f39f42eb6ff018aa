import { Logger } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { domainFixtures, FakeRoomBus } from '../../../test/support/domain-fixture.js';
import { ConnectionManagerEvent } from '../../kernel/connection-manager.events.js';
import { roomKey } from './room-key.js';

/**
 * RoomService against the real in-memory membership and session stores: join = reserve (policy,
 * atomic seat) → attach (local fan-out) → announce (`room.joined`); refusals are outcomes,
 * never throws; leave and detachAll; seats released when the store fails; publish and
 * broadcast reach the local connections and the cluster bus.
 */

const fixture = domainFixtures();

const key = roomKey('t1', 'c1');

describe('RoomService.join: reserve → attach → announce', () => {
  it('takes a seat, attaches the connection to the local room, runs beforeEvents, then publishes room.joined', async () => {
    const f = fixture();
    const ann = f.connect({ userId: 'ann', name: 'Ann' });
    const seen: string[] = [];
    const outcome = await f.rooms.join(ann, 'c1', {
      beforeEvents: (room) => {
        // Attached already (the reply may go out), but nobody has heard of the join yet.
        seen.push(`attached=${room.connections.has(ann)}`, `joinedEvents=${f.eventsNamed(ConnectionManagerEvent.RoomJoined).length}`);
      },
    });
    expect(outcome.ok).toBe(true);
    expect(seen).toEqual(['attached=true', 'joinedEvents=0']);
    expect(ann.rooms.get('c1')?.key).toBe(key);
    expect(f.local.get(key)?.connections.has(ann)).toBe(true);
    expect(await f.rooms.members('t1', 'c1')).toEqual([{ userId: 'ann', name: 'Ann', connections: 1 }]);
    const [joined] = f.eventsNamed(ConnectionManagerEvent.RoomJoined);
    expect(joined).toMatchObject({
      connectionId: ann.id,
      sessionId: ann.sessionId,
      userId: 'ann',
      tenantId: 't1',
      roomKey: key,
      roomId: 'canvas:c1',
      canvasId: 'c1',
      member: { userId: 'ann', name: 'Ann', connections: 1 },
      members: [{ userId: 'ann', name: 'Ann', connections: 1 }],
      firstConnectionOfUser: true,
      resumed: false,
    });
  });

  it('a connection starts getting room frames as soon as it is attached, before room.joined is published', async () => {
    const f = fixture();
    const bob = f.connect({ userId: 'bob' });
    await f.join(bob, 'c1');
    const ann = f.connect({ userId: 'ann' });
    // A listener of room.joined (Presence) that broadcasts: the joiner must be in the fan-out set already.
    f.emitter.on(ConnectionManagerEvent.RoomJoined, (e: { connectionId: string }) => {
      if (e.connectionId === ann.id) f.rooms.broadcast('t1', 'c1', { type: 'presence_join', userId: 'ann' });
    });
    await f.join(ann, 'c1');
    expect(ann.socket.takeTypes()).toEqual(['presence_join']);
    expect(bob.socket.takeTypes()).toEqual(['presence_join']);
  });

  it('is idempotent: joining a room already joined succeeds again and changes no membership', async () => {
    const f = fixture();
    const ann = f.connect({ userId: 'ann' });
    await f.join(ann, 'c1');
    const again = await f.rooms.join(ann, 'c1');
    expect(again.ok).toBe(true);
    expect(await f.rooms.members('t1', 'c1')).toEqual([{ userId: 'ann', connections: 1 }]);
    expect(f.local.get(key)?.connections.size).toBe(1);
    expect(ann.rooms.size).toBe(1);
    const events = f.eventsNamed(ConnectionManagerEvent.RoomJoined);
    expect(events).toHaveLength(2);
    // The repeat gives the joiner presence_state again; firstConnectionOfUser=false keeps it from the others.
    expect(events[1]).toMatchObject({ firstConnectionOfUser: false, member: { userId: 'ann', connections: 1 } });
  });

  it("a user's second tab joins as the same member (firstConnectionOfUser false, two connections)", async () => {
    const f = fixture();
    const tab1 = f.connect({ userId: 'ann' });
    const tab2 = f.connect({ userId: 'ann' });
    await f.join(tab1, 'c1');
    await f.join(tab2, 'c1');
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoined)[1]).toMatchObject({
      connectionId: tab2.id,
      firstConnectionOfUser: false,
      member: { userId: 'ann', connections: 2 },
    });
    expect(f.local.get(key)?.connections.size).toBe(2);
  });

  it('rooms are tenant-scoped: the same canvasId in two tenants is two rooms', async () => {
    const f = fixture();
    const ann = f.connect({ userId: 'ann', tenantId: 't1' });
    const eve = f.connect({ userId: 'eve', tenantId: 't2' });
    await f.join(ann, 'c1');
    await f.join(eve, 'c1');
    expect(await f.rooms.members('t1', 'c1')).toEqual([{ userId: 'ann', connections: 1 }]);
    expect(await f.rooms.members('t2', 'c1')).toEqual([{ userId: 'eve', connections: 1 }]);
    expect(f.rooms.broadcast('t1', 'c1', { type: 'x' })).toBe(1);
    expect(eve.socket.sent).toEqual([]);
  });
});

describe('RoomService.join: the session record first', () => {
  it('a fresh join is confirmed (beforeEvents: room_joined) only once the room is in the session record', async () => {
    const f = fixture();
    const { connection: ann, token } = await f.open();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const addRoom = f.sessionStore.addRoom.bind(f.sessionStore);
    const spy = vi.spyOn(f.sessionStore, 'addRoom').mockImplementationOnce(async (sessionId, canvasId) => {
      await gate;
      return addRoom(sessionId, canvasId);
    });
    let confirmed = false;
    const join = f.rooms.join(ann, 'c1', { beforeEvents: () => (confirmed = true) });
    // The seat is taken and the session write is under way: the join waits for it.
    await vi.waitFor(() => expect(spy).toHaveBeenCalledWith(ann.sessionId, 'c1'));
    expect(confirmed).toBe(false);
    expect(ann.rooms.has('c1')).toBe(false);
    release();
    expect((await join).ok).toBe(true);
    expect(confirmed).toBe(true);
    expect((await f.sessions.find(token))?.rooms).toEqual(['c1']);
  });

  it('a session store that rejects does not fail the join', async () => {
    const f = fixture();
    const { connection: ann } = await f.open();
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(f.sessionStore, 'addRoom').mockRejectedValue(new Error('ECONNREFUSED'));
    expect((await f.rooms.join(ann, 'c1')).ok).toBe(true);
    expect(ann.rooms.has('c1')).toBe(true);
  });
});

describe('RoomService.join: refusals are outcomes (and room.join_refused), never throws', () => {
  it('FORBIDDEN when the access policy says no: no seat taken, not attached', async () => {
    const f = fixture();
    const ann = f.connect({ userId: 'ann', canvases: ['c2'] });
    const joinSpy = vi.spyOn(f.membership, 'join');
    const outcome = await f.rooms.join(ann, 'c1');
    expect(outcome).toEqual({ ok: false, code: 'FORBIDDEN', message: 'access to this canvas is not allowed' });
    expect(joinSpy).not.toHaveBeenCalled();
    expect(ann.rooms.size).toBe(0);
    expect(f.local.size).toBe(0);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoinRefused)).toEqual([
      { connectionId: ann.id, sessionId: ann.sessionId, userId: 'ann', tenantId: 't1', canvasId: 'c1', code: 'FORBIDDEN' },
    ]);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoined)).toEqual([]);
    expect((await f.rooms.join(ann, 'c2')).ok).toBe(true);
  });

  it.each([
    [
      'throws',
      () => (): boolean => {
        throw new Error('policy bug');
      },
    ],
    ['rejects', () => (): Promise<boolean> => Promise.reject(new Error('database down'))],
  ])('FORBIDDEN when the access policy %s (logged, the connection stays)', async (_how, makeCanJoin) => {
    const f = fixture({ policy: { canJoin: makeCanJoin() } });
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const ann = f.connect();
    const outcome = await f.rooms.join(ann, 'c1');
    expect(outcome).toMatchObject({ ok: false, code: 'FORBIDDEN' });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('canvas access policy failed, treating as FORBIDDEN'));
    expect(await f.rooms.members('t1', 'c1')).toEqual([]);
    expect(ann.socket.closedWith).toBeUndefined();
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoinRefused)).toMatchObject([{ code: 'FORBIDDEN' }]);
  });

  it('ROOM_FULL at roomCapacity distinct users; a member\u2019s further tab still gets in', async () => {
    const f = fixture({ options: { roomCapacity: 2 } });
    const [ann, bob, cat] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' }), f.connect({ userId: 'cat' })];
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    const outcome = await f.rooms.join(cat, 'c1');
    expect(outcome).toEqual({ ok: false, code: 'ROOM_FULL', message: 'the room already holds 2 users' });
    expect(cat.rooms.size).toBe(0);
    expect(f.local.get(key)?.connections.has(cat)).toBe(false);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoinRefused)).toMatchObject([{ connectionId: cat.id, code: 'ROOM_FULL' }]);
    const annTab2 = f.connect({ userId: 'ann' });
    expect((await f.rooms.join(annTab2, 'c1')).ok).toBe(true);
    expect((await f.rooms.members('t1', 'c1')).map((m) => m.userId).sort()).toEqual(['ann', 'bob']);
  });

  it('UNAVAILABLE when the membership store rejects: not attached, the connection stays open', async () => {
    const f = fixture();
    const ann = f.connect();
    vi.spyOn(f.membership, 'join').mockRejectedValueOnce(new Error('ECONNREFUSED'));
    const outcome = await f.rooms.join(ann, 'c1');
    expect(outcome).toEqual({ ok: false, code: 'UNAVAILABLE', message: 'rooms are temporarily unavailable, retry later' });
    expect(ann.rooms.size).toBe(0);
    expect(f.local.size).toBe(0);
    expect(ann.socket.closedWith).toBeUndefined();
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoinRefused)).toMatchObject([{ code: 'UNAVAILABLE' }]);
    // The store is back: the same join works.
    expect((await f.rooms.join(ann, 'c1')).ok).toBe(true);
  });

  it('a connection that closed while its seat was being taken gives the seat back and is not attached', async () => {
    const f = fixture({
      policy: {
        canJoin: async () => {
          ann.closed = true; // the socket closed during the (async) policy check
          return true;
        },
      },
    });
    const ann = f.connect();
    const outcome = await f.rooms.join(ann, 'c1');
    expect(outcome).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
    await vi.waitFor(async () => expect(await f.rooms.members('t1', 'c1')).toEqual([]));
    expect(f.local.size).toBe(0);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoined)).toEqual([]);
  });
});

describe('RoomService.leave and detachAll', () => {
  it('leave takes the connection out of the fan-out at once, gives the seat back and publishes room.left', async () => {
    const bus = new FakeRoomBus();
    const f = fixture({ bus });
    const ann = f.connect({ userId: 'ann' });
    const bob = f.connect({ userId: 'bob' });
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    const leaving = f.rooms.leave(ann, 'c1');
    // Synchronous part: no frame reaches ann once leave() has started.
    f.rooms.broadcast('t1', 'c1', { type: 'after-leave' });
    expect(await leaving).toBe(true);
    expect(ann.socket.sent).toEqual([]);
    expect(bob.socket.takeTypes()).toEqual(['after-leave']);
    expect(ann.rooms.size).toBe(0);
    expect(await f.rooms.members('t1', 'c1')).toEqual([{ userId: 'bob', connections: 1 }]);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toEqual([
      {
        connectionId: ann.id,
        sessionId: ann.sessionId,
        userId: 'ann',
        tenantId: 't1',
        roomKey: key,
        roomId: 'canvas:c1',
        canvasId: 'c1',
        reason: 'leave',
        lastConnectionOfUser: true,
      },
    ]);
    // The last local member leaving drops the room and its bus subscription.
    expect(bus.subscribed.has(key)).toBe(true);
    await f.rooms.leave(bob, 'c1', 'kicked');
    expect(f.local.size).toBe(0);
    expect(bus.subscribed.has(key)).toBe(false);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)[1]).toMatchObject({ reason: 'kicked' });
  });

  it('leave of a room not joined returns false and publishes nothing', async () => {
    const f = fixture();
    const ann = f.connect();
    expect(await f.rooms.leave(ann, 'c1')).toBe(false);
    expect(f.events).toEqual([]);
  });

  it('leave of one tab keeps the user in presence (lastConnectionOfUser false)', async () => {
    const f = fixture();
    const [tab1, tab2] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'ann' })];
    await f.join(tab1, 'c1', 'c2');
    await f.join(tab2, 'c1');
    await f.rooms.leave(tab1, 'c1');
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toMatchObject([{ connectionId: tab1.id, lastConnectionOfUser: false }]);
    expect(await f.rooms.members('t1', 'c1')).toEqual([{ userId: 'ann', connections: 1 }]);
  });

  it('detachAll removes the connection from every local room at once, keeps its seats and publishes nothing', async () => {
    const f = fixture();
    const ann = f.connect({ userId: 'ann' });
    const bob = f.connect({ userId: 'bob' });
    await f.join(ann, 'c1', 'c2');
    await f.join(bob, 'c1');
    f.events.length = 0;
    const rooms = f.rooms.detachAll(ann);
    expect(rooms.map((r) => r.canvasId)).toEqual(['c1', 'c2']);
    expect(ann.rooms.size).toBe(0);
    expect(f.local.get(roomKey('t1', 'c2'))).toBeUndefined();
    expect(f.local.get(key)?.connections.has(ann)).toBe(false);
    expect(f.rooms.broadcast('t1', 'c1', { type: 'x' })).toBe(1);
    expect(ann.socket.sent).toEqual([]);
    // Seats are the caller's to give back (releaseSeat), or to keep lingering.
    expect((await f.rooms.members('t1', 'c2')).map((m) => m.userId)).toEqual(['ann']);
    expect(f.events).toEqual([]);
  });

  it('releaseSeat with a failing store still publishes room.left; lastConnectionOfUser comes from the local room', async () => {
    const f = fixture();
    const [tab1, tab2, bob] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' })];
    await f.join(tab1, 'c1');
    await f.join(tab2, 'c1');
    await f.join(bob, 'c1');
    vi.spyOn(f.membership, 'leave').mockRejectedValue(new Error('ECONNRESET'));

    // ann's other tab is still in the local room: not her last connection.
    const [room1] = f.rooms.detachAll(tab1);
    await expect(f.rooms.releaseSeat(tab1, room1!, 'disconnect')).resolves.toBeUndefined();
    // Her last tab: she has left the room entirely.
    const [room2] = f.rooms.detachAll(tab2);
    await f.rooms.releaseSeat(tab2, room2!, 'disconnect');
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toMatchObject([
      { connectionId: tab1.id, reason: 'disconnect', lastConnectionOfUser: false },
      { connectionId: tab2.id, reason: 'disconnect', lastConnectionOfUser: true },
    ]);
  });
});

describe('RoomService.publish and broadcast', () => {
  it('publish appends to the room log (consecutive positions), sends the same bytes to every local member but the sender, and keeps the message for away sessions', async () => {
    const f = fixture();
    const [ann, bob, cat] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' }), f.connect({ userId: 'cat' })];
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    await f.join(cat, 'c1');
    // cat goes away (a resumable close): her session keeps the room's messages.
    const [catRoom] = f.rooms.detachAll(cat);
    await f.sessions.suspend(cat, [catRoom!.key], ['c1']);

    const { epoch } = f.roomLog.head(key);
    f.publish(key, JSON.stringify({ type: 'message', canvasId: 'c1', data: 1 }), ann.id);
    f.publish(key, JSON.stringify({ type: 'message', canvasId: 'c1', data: 2 }));
    const first = `{"type":"message","pos":"${epoch}.1","canvasId":"c1","data":1}`;
    const second = `{"type":"message","pos":"${epoch}.2","canvasId":"c1","data":2}`;
    expect(bob.socket.sent).toEqual([first, second]);
    expect(ann.socket.sent).toEqual([second]);
    const missed = await f.sessions.takeMissed(cat.sessionId, [key]);
    expect(missed.messages.map((m) => [m.id, m.frame])).toEqual([
      [`${epoch}.1`, first],
      [`${epoch}.2`, second],
    ]);
    // The log replays after a position, never the reader's own messages.
    expect((await f.roomLog.readAfter(key, `${epoch}.0`, ann.sessionId)).messages.map((m) => m.frame)).toEqual([second]);
    expect((await f.roomLog.readAfter(key, `${epoch}.1`, bob.sessionId)).messages.map((m) => m.frame)).toEqual([second]);
  });

  it('a message with seq is acknowledged once in the log; a resend (seq not above the accepted one) is acknowledged again and not delivered', async () => {
    const f = fixture();
    const [ann, bob] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' })];
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    f.publish(key, '{"type":"message","data":1}', ann.id, 1);
    f.publish(key, '{"type":"message","data":2}', ann.id, 2);
    f.publish(key, '{"type":"message","data":2}', ann.id, 2);
    // A resend on a new connection of the session (after a resume): the log still knows seq 2.
    const annAgain = f.connect({ userId: 'ann' }, ann.sessionId);
    await f.join(annAgain, 'c1');
    f.publish(key, '{"type":"message","data":1}', annAgain.id, 1);
    expect(bob.socket.frames().map((m) => m.data)).toEqual([1, 2]);
    expect(ann.socket.frames()).toEqual([
      { type: 'ack', seq: 1 },
      { type: 'ack', seq: 2 },
      { type: 'ack', seq: 2 },
    ]);
    expect(annAgain.socket.frames()).toEqual([{ type: 'ack', seq: 1 }]);
    expect(await f.roomLog.lastSeq(ann.sessionId, [key])).toBe(2);
  });

  it('the deprecated publish(roomKey, frame, exceptConnectionId) still logs and delivers, with a position', async () => {
    const f = fixture();
    const [ann, bob] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' })];
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    f.rooms.publish(key, '{"type":"message","canvasId":"c1","data":1}', ann.id);
    f.rooms.publish(key, '{"x":2}');
    const { epoch } = f.roomLog.head(key);
    expect(bob.socket.sent).toEqual([`{"type":"message","pos":"${epoch}.1","canvasId":"c1","data":1}`, `{"type":"message","pos":"${epoch}.2","data":{"x":2}}`]);
    expect(ann.socket.frames().map((m) => m.data)).toEqual([{ x: 2 }]);
  });

  it("publish never reaches the sender's session: not its resumed connection here, nor from another instance", async () => {
    const bus = new FakeRoomBus();
    const f = fixture({ bus });
    const [ann, bob] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' })];
    // ann's session resumed on a new connection while the old one is still being taken over.
    const annAgain = f.connect({ userId: 'ann' }, ann.sessionId);
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    await f.join(annAgain, 'c1');

    f.publish(key, '{"type":"message","data":1}', ann.id);
    // What another instance publishes for a sender whose session is here now.
    bus.remote(key, '{"type":"message","data":2}', ann.sessionId, 'e.9');
    expect(bob.socket.frames().map((m) => m.data)).toEqual([1, 2]);
    expect(annAgain.socket.sent).toEqual([]);
    expect(ann.socket.sent).toEqual([]);

    // Away, the sender's session does not buffer its own message; another away session does.
    const cat = f.connect({ userId: 'cat' });
    await f.join(cat, 'c1');
    for (const c of [annAgain, cat])
      await f.sessions.suspend(
        c,
        f.rooms.detachAll(c).map((r) => r.key),
        ['c1'],
      );
    f.sessions.append(key, 'e.10', '{"type":"message","data":3}', ann.sessionId);
    expect((await f.sessions.takeMissed(ann.sessionId, [key])).messages).toEqual([]);
    expect((await f.sessions.takeMissed(cat.sessionId, [key])).messages.map((m) => m.id)).toEqual(['e.10']);
  });

  it('broadcast reaches the local members but the excepted one and the bus, and is not kept for replay', async () => {
    const bus = new FakeRoomBus();
    const f = fixture({ bus });
    const [ann, bob, away] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' }), f.connect({ userId: 'cat' })];
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    await f.join(away, 'c1');
    const [awayRoom] = f.rooms.detachAll(away);
    await f.sessions.suspend(away, [awayRoom!.key], ['c1']);

    expect(f.rooms.broadcast('t1', 'c1', { type: 'presence_leave', userId: 'x' }, bob.id)).toBe(1);
    expect(ann.socket.frames()).toEqual([{ type: 'presence_leave', userId: 'x' }]);
    expect(bob.socket.sent).toEqual([]);
    expect(bus.published).toEqual([{ roomKey: key, frame: '{"type":"presence_leave","userId":"x"}', except: bob.id, messageId: undefined }]);
    expect((await f.sessions.takeMissed(away.sessionId, [key])).messages).toEqual([]);
  });

  it('cluster mode: a join holds live frames from its attach, reads the members again, and sends what it held after room_joined', async () => {
    const bus = new FakeRoomBus();
    const f = fixture({ bus });
    const bob = f.connect({ userId: 'bob' });
    await f.join(bob, 'c1');
    const ann = f.connect({ userId: 'ann' });
    const members = f.membership.members.bind(f.membership);
    // Another instance's presence frame arrives while the members are read (after the attach).
    vi.spyOn(f.membership, 'members').mockImplementationOnce(async (k) => {
      bus.remote(key, '{"type":"presence_join","userId":"cat"}');
      return members(k);
    });
    let sentAtReply: string[] | undefined;
    const outcome = await f.rooms.join(ann, 'c1', { beforeEvents: () => (sentAtReply = [...ann.socket.sent]) });
    expect(sentAtReply).toEqual([]);
    expect(ann.socket.frames()).toEqual([{ type: 'presence_join', userId: 'cat' }]);
    expect(outcome.ok && outcome.event.members.map((m) => m.userId).sort()).toEqual(['ann', 'bob']);
    expect(ann.held).toBeNull();
  });

  it('cluster mode: room_joined.pos is the position at the attach, and the joiner gets only the messages after it, late bus deliveries at or below it dropped', async () => {
    const bus = new FakeRoomBus();
    let head = 8;
    const f = fixture({ bus, clusterLogHead: async () => ({ epoch: 'e', n: head }) });
    const bob = f.connect({ userId: 'bob' });
    await f.join(bob, 'c1');
    head = 10;
    const ann = f.connect({ userId: 'ann' });
    const members = f.membership.members.bind(f.membership);
    // While ann's join reads the members (after her attach at e.10), the bus brings e.9 (appended
    // before the head ann's join read, delivered late) and e.11 (after it).
    vi.spyOn(f.membership, 'members').mockImplementationOnce(async (k) => {
      for (const n of [9, 11]) bus.remote(key, JSON.stringify({ type: 'message', n }), undefined, `e.${n}`);
      return members(k);
    });
    let joinedAt: string | undefined;
    const outcome = await f.rooms.join(ann, 'c1', { beforeEvents: (_room, pos) => (joinedAt = pos) });
    expect(joinedAt).toBe('e.10');
    expect(outcome.ok && outcome.pos).toBe('e.10');
    expect(ann.socket.frames().map((m) => m.n)).toEqual([11]);
    expect(ann.replayFloors).toBeNull();
    expect(
      bob.socket
        .frames()
        .filter((m) => m.type === 'message')
        .map((m) => m.n),
    ).toEqual([9, 11]);
  });

  it('cluster mode: a repeated join sets no floor, so a member still gets the late messages below the head it read', async () => {
    const bus = new FakeRoomBus();
    let head = 10;
    const f = fixture({ bus, clusterLogHead: async () => ({ epoch: 'e', n: head }) });
    const ann = f.connect({ userId: 'ann' });
    await f.join(ann, 'c1');
    head = 12;
    const again = await f.rooms.join(ann, 'c1');
    expect(again.ok && again.pos).toBe('e.12');
    for (const n of [11, 12, 13]) bus.remote(key, JSON.stringify({ type: 'message', n }), undefined, `e.${n}`);
    expect(
      ann.socket
        .frames()
        .filter((m) => m.type === 'message')
        .map((m) => m.n),
    ).toEqual([11, 12, 13]);
  });

  it('cluster mode: a floor a quiet room never lifted goes when the connection leaves the room', async () => {
    const bus = new FakeRoomBus();
    const f = fixture({ bus, clusterLogHead: async () => ({ epoch: 'e', n: 3 }) });
    const ann = f.connect({ userId: 'ann' });
    await f.join(ann, 'c1', 'c2');
    expect([...(ann.replayFloors?.keys() ?? [])]).toEqual([key, roomKey('t1', 'c2')]);
    await f.rooms.leave(ann, 'c1');
    expect([...(ann.replayFloors?.keys() ?? [])]).toEqual([roomKey('t1', 'c2')]);
    await f.rooms.leave(ann, 'c2');
    expect(ann.replayFloors).toBeNull();
  });

  it('a connection resumed with positions skips a late bus delivery at or below its replay floor; the first message above lifts the floor', async () => {
    const bus = new FakeRoomBus();
    const f = fixture({ bus });
    const [ann, bob] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' })];
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    ann.replayFloors = new Map([[key, { epoch: 'e', n: 5 }]]);
    for (const n of [4, 5, 6, 5]) bus.remote(key, JSON.stringify({ type: 'message', n }), undefined, `e.${n}`);
    expect(ann.socket.frames().map((m) => m.n)).toEqual([6, 5]);
    expect(ann.replayFloors).toBeNull();
    expect(bob.socket.frames().map((m) => m.n)).toEqual([4, 5, 6, 5]);
  });

  it("frames from the bus (another instance's members) reach this instance's members of the room", async () => {
    const bus = new FakeRoomBus();
    const f = fixture({ bus });
    const [ann, bob] = [f.connect({ userId: 'ann' }), f.connect({ userId: 'bob' })];
    await f.join(ann, 'c1');
    await f.join(bob, 'c1');
    bus.remote(key, '{"type":"message","data":"remote"}', bob.id, 'instance-2:7');
    bus.remote(roomKey('t1', 'other'), '{"type":"message","data":"nobody here"}');
    expect(ann.socket.sent).toEqual(['{"type":"message","data":"remote"}']);
    expect(bob.socket.sent).toEqual([]);
  });

  it('publish to a room without local members is still logged; broadcast to it still goes on the bus', () => {
    const bus = new FakeRoomBus();
    const f = fixture({ bus });
    f.publish(key, '{"type":"message","data":1}');
    expect(f.roomLog.head(key).n).toBe(1);
    expect(f.rooms.broadcast('t1', 'c1', { type: 'x' })).toBe(0);
    expect(bus.published).toHaveLength(1);
  });
});
