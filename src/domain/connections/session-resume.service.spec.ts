import { Logger } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { domainFixtures, type DomainFixture, type TestConnection } from '../../../test/support/domain-fixture.js';
import { ConnectionManagerEvent } from '../../kernel/connection-manager.events.js';
import type { SessionRecord } from '../ports/session-store.port.js';
import { ClaimsCanvasAccessPolicy } from '../rooms/claims-canvas-access-policy.js';
import { roomKey } from '../rooms/room-key.js';

/**
 * SessionResumeService, step by step, against the real in-memory stores: takeover of a
 * predecessor that still looks open, adoption of one lingering in presence, seats that cannot
 * be restored (error frames), the burst's order (ack → reauth_required → errors → presence →
 * replay → held live frames) with held and replayed messages sent once, `truncated` when the
 * holder crashed, and a new connection that closes half-way.
 */

/** Runs inside the access policy's (async) check of each room a resume restores: the window between takeover and attach. */
let duringReserve: ((canvasId: string) => void) | undefined;
const claims = new ClaimsCanvasAccessPolicy();

const fixture = domainFixtures(() => {
  duringReserve = undefined;
  return {
    policy: {
      canJoin: async (identity, canvasId) => {
        duringReserve?.(canvasId);
        return claims.canJoin(identity, canvasId);
      },
    },
  };
});

const k1 = roomKey('t1', 'c1');
const k2 = roomKey('t1', 'c2');
const message = (n: number, canvasId = 'c1') => JSON.stringify({ type: 'message', canvasId, data: n });
/** Frames without their log position (the positions are the room log's, checked in room.service.spec). */
const noPos = (frames: Array<Record<string, unknown>>) => frames.map(({ pos: _pos, ...frame }) => frame);

/** The resume an upgrade with `token` would run: claim the token, open a connection on the session, resume. */
async function resumeWith(f: DomainFixture, token: string, identity: { expiresAt?: number } = {}): Promise<{ b: TestConnection; record: SessionRecord }> {
  const record = await f.sessions.claim(token);
  if (!record) throw new Error('token did not claim a session');
  const b = f.connect({ userId: record.userId, tenantId: record.tenantId, ...identity }, record.sessionId);
  await f.resumer.resume(b, record);
  return { b, record };
}

describe('SessionResumeService: an away session resumed', () => {
  it("the restored rooms are in the session's stored room list again (a crash after the resume restores them)", async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann' });
    await f.join(a, 'c1', 'c2');
    await f.socketClosed(a);
    const { b } = await resumeWith(f, token);
    const newToken = b.socket.frames()[0]!.reconnectToken as string;
    await vi.waitFor(async () => expect((await f.sessions.find(newToken))?.rooms).toEqual(['c1', 'c2']));
  });

  it('sends the ack (resumed, rooms, missed), then presence per room, then the missed messages in order; events follow', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann' });
    const { connection: bob } = await f.open({ userId: 'bob' });
    await f.join(a, 'c1', 'c2');
    await f.join(bob, 'c1', 'c2');
    await f.socketClosed(a);
    f.publish(k1, message(1), bob.id);
    f.publish(k2, message(2, 'c2'), bob.id);
    f.publish(k1, message(3), bob.id);
    f.events.length = 0;
    // Presence's part: presence_state for the joiner on room.joined.
    f.emitter.on(ConnectionManagerEvent.RoomJoined, (e: { connectionId: string; canvasId: string }) => {
      f.connections.get(e.connectionId)?.sendFrame({ type: 'presence_state', canvasId: e.canvasId });
    });

    const { b } = await resumeWith(f, token);
    const frames = b.socket.frames();
    expect(frames[0]).toMatchObject({ type: 'connection_ack', sessionId: a.sessionId, resumed: true, rooms: ['c1', 'c2'], missed: 'replayed' });
    expect(frames[0]!.reconnectToken).not.toBe(token);
    expect(noPos(frames.slice(1))).toEqual([
      { type: 'presence_state', canvasId: 'c1' },
      { type: 'presence_state', canvasId: 'c2' },
      JSON.parse(message(1)),
      JSON.parse(message(2, 'c2')),
      JSON.parse(message(3)),
    ]);
    expect(f.takeEventNames()).toEqual([
      ConnectionManagerEvent.RoomJoined,
      ConnectionManagerEvent.RoomJoined,
      ConnectionManagerEvent.ConnectionEstablished,
      ConnectionManagerEvent.SessionResumed,
    ]);
    expect(b.rooms.size).toBe(2);
    // The used token is gone; the new one resumes the session.
    expect(await f.sessions.find(token)).toBeUndefined();
    expect(await f.sessions.find(frames[0]!.reconnectToken)).toMatchObject({ sessionId: a.sessionId, connectionId: b.id, awayUntil: 0 });
  });

  it('publishes room.joined (resumed), connection.established (resumed) and session.resumed naming the previous connection', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open();
    await f.join(a, 'c1');
    await f.socketClosed(a);
    f.events.length = 0;
    const { b } = await resumeWith(f, token);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoined)).toMatchObject([{ connectionId: b.id, canvasId: 'c1', resumed: true }]);
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionEstablished)).toMatchObject([{ connectionId: b.id, resumed: true }]);
    expect(f.eventsNamed(ConnectionManagerEvent.SessionResumed)).toEqual([
      { connectionId: b.id, sessionId: a.sessionId, userId: 'ann', tenantId: 't1', previousConnectionId: a.id, rooms: ['c1'], missed: 'none' },
    ]);
    expect(f.expiry.pending).toBe(1);
  });
});

describe('SessionResumeService step 1: the predecessor', () => {
  it('takes over a predecessor that still looks open: closed with 4000 (not resumable), its rooms move to the new connection, one member in presence', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann' });
    const { connection: bob } = await f.open({ userId: 'bob' });
    await f.join(a, 'c1');
    await f.join(bob, 'c1');
    // A message sent between the takeover and the new connection's attach is kept for it.
    duringReserve = () => f.publish(k1, message(1), bob.id);
    f.events.length = 0;

    const { b } = await resumeWith(f, token);
    expect(a.socket.closedWith).toEqual({ code: 4000, reason: 'session resumed elsewhere' });
    expect(a).toMatchObject({ closed: true, closeCause: 'session_taken_over', resumable: false });
    expect(f.connections.get(a.id)).toBeUndefined();
    expect(a.socket.sent).toEqual([]);
    const frames = b.socket.frames();
    expect(frames[0]).toMatchObject({ type: 'connection_ack', resumed: true, rooms: ['c1'], missed: 'replayed' });
    expect(noPos(frames.slice(1))).toEqual([JSON.parse(message(1))]);
    expect(await f.rooms.members('t1', 'c1')).toEqual([
      { userId: 'ann', connections: 1 },
      { userId: 'bob', connections: 1 },
    ]);
    expect(f.local.get(k1)?.connections.has(a)).toBe(false);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toMatchObject([{ connectionId: a.id, reason: 'disconnect', lastConnectionOfUser: false }]);
    // The predecessor's disconnect notification comes after the resume, once.
    const names = f.takeEventNames();
    expect(names.filter((n) => n === ConnectionManagerEvent.ConnectionClosed)).toHaveLength(1);
    expect(names.at(-1)).toBe(ConnectionManagerEvent.ConnectionClosed);

    // Its socket's close completes later: no second notification, and the session stays b's.
    const closedEvents: unknown[] = [];
    f.emitter.on(ConnectionManagerEvent.ConnectionClosed, (e) => closedEvents.push(e));
    await f.socketClosed(a, 4000, 'session resumed elsewhere');
    expect(closedEvents).toEqual([]);
    expect(await f.sessions.find(frames[0]!.reconnectToken)).toMatchObject({ connectionId: b.id, awayUntil: 0 });
  });

  it("the taken-over predecessor's connection.closed says 4000, session_taken_over, not resumable", async () => {
    const f = fixture();
    const { connection: a, token } = await f.open();
    await f.join(a, 'c1');
    await resumeWith(f, token);
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionClosed)).toEqual([
      {
        connectionId: a.id,
        sessionId: a.sessionId,
        userId: 'ann',
        tenantId: 't1',
        code: 4000,
        reason: 'session resumed elsewhere',
        cause: 'session_taken_over',
        resumable: false,
      },
    ]);
  });

  it('adopts a predecessor lingering in presence: its seats are handed over (one member), its linger timer stops', async () => {
    vi.useFakeTimers();
    const f = fixture({ options: { presenceLingerMs: 5000 } });
    const { connection: a, token } = await f.open({ userId: 'ann' });
    const { connection: bob } = await f.open({ userId: 'bob' });
    await f.join(a, 'c1');
    await f.join(bob, 'c1');
    await f.socketClosed(a);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    f.events.length = 0;

    const { b } = await resumeWith(f, token);
    expect(b.socket.frames()[0]).toMatchObject({ type: 'connection_ack', rooms: ['c1'], missed: 'none' });
    // The lingering seat went before the presence snapshot: ann is one connection, in the store and in room.joined.
    expect(await f.rooms.members('t1', 'c1')).toEqual([
      { userId: 'ann', connections: 1 },
      { userId: 'bob', connections: 1 },
    ]);
    const [joined] = f.eventsNamed(ConnectionManagerEvent.RoomJoined);
    // The others never saw ann leave (she lingered), so they must not see her join again either.
    expect(joined).toMatchObject({ resumed: true, member: { userId: 'ann', connections: 1 }, firstConnectionOfUser: false });
    expect(joined.members).toContainEqual({ userId: 'ann', connections: 1 });
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toMatchObject([{ connectionId: a.id, lastConnectionOfUser: false }]);
    // Adopted, not taken over: its connection.closed was published at its close, not again.
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionClosed)).toEqual([]);
    f.events.length = 0;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toEqual([]);
    expect(f.lifecycle.takeLingering(a.sessionId)).toBeUndefined();
  });
});

describe('SessionResumeService steps 2–6: seats, replay and the burst', () => {
  it('rooms that cannot be restored become error frames after the ack (ROOM_FULL, FORBIDDEN, UNAVAILABLE), and their messages are dropped', async () => {
    const f = fixture({ options: { roomCapacity: 1 } });
    const { connection: a, token } = await f.open({ userId: 'ann' });
    await f.join(a, 'c1', 'c2', 'c3', 'c4');
    await f.socketClosed(a);
    // While ann is away: cat takes c2's only seat, c3's policy turns, the store fails on c4.
    const { connection: cat } = await f.open({ userId: 'cat' });
    await f.join(cat, 'c2');
    f.publish(k1, message(1));
    f.publish(k2, message(2, 'c2'), cat.id);
    f.publish(k1, message(3));
    duringReserve = (canvasId) => {
      if (canvasId === 'c3') throw new Error('policy bug');
    };
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const join = f.membership.join.bind(f.membership);
    vi.spyOn(f.membership, 'join').mockImplementation((key, entry, capacity) =>
      key === roomKey('t1', 'c4') ? Promise.reject(new Error('ECONNREFUSED')) : join(key, entry, capacity),
    );

    const { b } = await resumeWith(f, token);
    const frames = b.socket.frames();
    expect(frames[0]).toMatchObject({ type: 'connection_ack', rooms: ['c1'], missed: 'replayed' });
    expect(noPos(frames.slice(1))).toEqual([
      { type: 'error', code: 'ROOM_FULL', message: 'the room already holds 1 users', canvasId: 'c2' },
      { type: 'error', code: 'FORBIDDEN', message: 'access to this canvas is not allowed', canvasId: 'c3' },
      { type: 'error', code: 'UNAVAILABLE', message: 'rooms are temporarily unavailable, retry later', canvasId: 'c4' },
      JSON.parse(message(1)),
      JSON.parse(message(3)),
    ]);
    expect([...b.rooms.keys()]).toEqual(['c1']);
    expect(f.eventsNamed(ConnectionManagerEvent.SessionResumed)).toMatchObject([{ rooms: ['c1'], missed: 'replayed' }]);
  });

  it('a session whose token already expired gets reauth_required right after the ack, before anything else', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann', canvases: ['c1'] });
    await f.join(a, 'c1');
    await f.socketClosed(a);
    f.publish(k1, message(1));
    const { b } = await resumeWith(f, token, { expiresAt: Date.now() - 1000 });
    expect(b.socket.takeTypes()).toEqual(['connection_ack', 'reauth_required', 'message']);
  });

  it('live frames that arrive while the resume is set up are held and sent after the replay; one also in the buffer is sent once', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann' });
    await f.join(a, 'c1');
    await f.socketClosed(a);
    f.publish(k1, message(1));
    // A slow buffer read (a shared store): message 2 lands in the buffer and is held live as
    // well; message 3 and a broadcast (not replayable) arrive after the buffer was read.
    const takeMissed = f.sessionStore.takeMissed.bind(f.sessionStore);
    vi.spyOn(f.sessionStore, 'takeMissed').mockImplementationOnce(async (sessionId, keys) => {
      f.publish(k1, message(2));
      const missed = await takeMissed(sessionId, keys);
      f.publish(k1, message(3));
      f.rooms.broadcast('t1', 'c1', { type: 'presence_join', userId: 'dan' });
      return missed;
    });

    const { b } = await resumeWith(f, token);
    const frames = b.socket.frames();
    expect(frames[0]).toMatchObject({ type: 'connection_ack', missed: 'replayed' });
    expect(noPos(frames.slice(1))).toEqual([JSON.parse(message(1)), JSON.parse(message(2)), JSON.parse(message(3)), { type: 'presence_join', userId: 'dan' }]);
    expect(b.held).toBeNull();
    // From now on frames go straight out.
    f.publish(k1, message(4));
    expect(noPos([b.socket.frames().at(-1)!])).toEqual([JSON.parse(message(4))]);
  });

  it("with positions: replays exactly the room log after each position, never the session's own; lastSeq and missed are the log's", async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann' });
    const { connection: bob } = await f.open({ userId: 'bob' });
    await f.join(a, 'c1', 'c2');
    await f.join(bob, 'c1', 'c2');
    f.publish(k1, message(1), bob.id);
    f.publish(k1, message(2), a.id, 7);
    const seen = a.socket.frames().filter((m) => m.type === 'message');
    expect(seen.map((m) => m.data)).toEqual([1]);
    await f.socketClosed(a);
    f.publish(k1, message(3), bob.id);
    f.publish(k2, message(4, 'c2'), bob.id);

    const record = (await f.sessions.claim(token))!;
    const b = f.connect({ userId: 'ann' }, record.sessionId);
    const c2 = f.roomLog.head(k2);
    // c1: the client processed message 1 (and sent 2 itself); c2: it had processed nothing since its join.
    await f.resumer.resume(
      b,
      record,
      new Map([
        ['c1', seen[0]!.pos as string],
        ['c2', `${c2.epoch}.0`],
      ]),
    );
    const frames = b.socket.frames();
    expect(frames[0]).toMatchObject({ type: 'connection_ack', resumed: true, missed: 'replayed', lastSeq: 7 });
    expect(frames.filter((m) => m.type === 'message').map((m) => m.data)).toEqual([3, 4]);
  });

  it('with positions: "none" when nothing came after them, "truncated" when a position is of another epoch or fell out of the log', async () => {
    const f = fixture({ options: { resumeBufferMessages: 2 } });
    const { connection: a, token } = await f.open({ userId: 'ann' });
    const { connection: bob } = await f.open({ userId: 'bob' });
    await f.join(a, 'c1', 'c2');
    await f.join(bob, 'c1', 'c2');
    const h1 = f.roomLog.head(k1);
    await f.socketClosed(a);
    let record = (await f.sessions.claim(token))!;
    let b = f.connect({ userId: 'ann' }, record.sessionId);
    await f.resumer.resume(b, record, new Map([['c1', `${h1.epoch}.${h1.n}`]]));
    const ack = b.socket.frames()[0]!;
    expect(ack).toMatchObject({ missed: 'none', lastSeq: 0 });

    for (const n of [1, 2, 3]) f.publish(k1, message(n), bob.id);
    await f.socketClosed(b);
    record = (await f.sessions.claim(ack.reconnectToken as string))!;
    b = f.connect({ userId: 'ann' }, record.sessionId);
    // Position 0 fell out (the log keeps 2): what is kept is replayed, and the ack says truncated.
    await f.resumer.resume(b, record, new Map([['c1', `${h1.epoch}.0`]]));
    const frames = b.socket.frames();
    expect(frames[0]).toMatchObject({ missed: 'truncated' });
    expect(frames.filter((m) => m.type === 'message').map((m) => m.data)).toEqual([2, 3]);

    await f.socketClosed(b);
    record = (await f.sessions.claim(frames[0]!.reconnectToken as string))!;
    b = f.connect({ userId: 'ann' }, record.sessionId);
    await f.resumer.resume(b, record, new Map([['c1', 'otherepoch.3']]));
    expect(b.socket.frames()[0]).toMatchObject({ missed: 'truncated' });
  });

  it.each<[string, Partial<SessionRecord>]>([
    ['was still connected on an instance that crashed (awayUntil 0, no predecessor here)', { awayUntil: 0 }],
    ['was orphaned by a purge of its dead instance (lostBuffer)', { awayUntil: Date.now() + 60_000, lostBuffer: true }],
  ])('missed is "truncated" for a session that %s', async (_what, part) => {
    const f = fixture();
    const record: SessionRecord = {
      sessionId: 'session-of-dead-instance',
      userId: 'ann',
      tenantId: 't1',
      expiresAt: Date.now() + 3_600_000,
      credentialDeadline: Date.now() + 3_630_000,
      connectionId: 'conn-on-dead-instance',
      rooms: ['c1'],
      awayUntil: 0,
      ...part,
    };
    const b = f.connect({ userId: 'ann' }, record.sessionId);
    await f.resumer.resume(b, record);
    expect(b.socket.frames()).toMatchObject([{ type: 'connection_ack', resumed: true, rooms: ['c1'], missed: 'truncated' }]);
    expect(f.eventsNamed(ConnectionManagerEvent.SessionResumed)).toMatchObject([{ previousConnectionId: 'conn-on-dead-instance', missed: 'truncated' }]);
  });

  it('missed is "truncated" when the replay buffer cannot be read (the client refetches)', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open();
    await f.join(a, 'c1');
    await f.socketClosed(a);
    f.publish(k1, message(1));
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(f.sessionStore, 'takeMissed').mockRejectedValueOnce(new Error('ECONNRESET'));
    const { b } = await resumeWith(f, token);
    expect(b.socket.frames()).toMatchObject([{ type: 'connection_ack', rooms: ['c1'], missed: 'truncated' }]);
  });
});

describe('SessionResumeService: the new connection closes mid-resume', () => {
  it('closed while its seats are taken: no ack, no resume events, no seat left behind', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann' });
    await f.join(a, 'c1');
    await f.socketClosed(a);
    let b: TestConnection | undefined;
    duringReserve = () => void f.socketClosed(b!);
    const record = (await f.sessions.claim(token))!;
    b = f.connect({ userId: 'ann' }, record.sessionId);
    f.events.length = 0;
    await f.resumer.resume(b, record);
    await f.lifecycle.idle(1000);
    expect(b.socket.sent).toEqual([]);
    expect(f.eventsNamed(ConnectionManagerEvent.SessionResumed)).toEqual([]);
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionEstablished)).toEqual([]);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoined)).toEqual([]);
    expect(f.local.size).toBe(0);
    expect(await f.rooms.members('t1', 'c1')).toEqual([]);
  });

  it('closed while the buffer is read: no burst, its rooms are released, and a taken-over predecessor is still reported once', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann' });
    await f.join(a, 'c1');
    const record = (await f.sessions.claim(token))!;
    const b = f.connect({ userId: 'ann' }, record.sessionId);
    const takeMissed = f.sessionStore.takeMissed.bind(f.sessionStore);
    vi.spyOn(f.sessionStore, 'takeMissed').mockImplementationOnce(async (sessionId, keys) => {
      await f.socketClosed(b);
      return takeMissed(sessionId, keys);
    });
    f.events.length = 0;
    await f.resumer.resume(b, record);
    expect(b.socket.sent).toEqual([]);
    expect(b.held).toBeNull();
    expect(f.eventsNamed(ConnectionManagerEvent.SessionResumed)).toEqual([]);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomJoined)).toEqual([]);
    expect(f.local.size).toBe(0);
    expect(await f.rooms.members('t1', 'c1')).toEqual([]);
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionClosed)).toMatchObject([
      { connectionId: b.id, cause: 'client', resumable: true },
      { connectionId: a.id, code: 4000, cause: 'session_taken_over' },
    ]);
  });
});
