import { Logger } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { domainFixtures } from '../../../test/support/domain-fixture.js';
import { ConnectionManagerEvent } from '../../kernel/connection-manager.events.js';
import { roomKey } from '../rooms/room-key.js';

/**
 * ConnectionLifecycleService against the real in-memory stores: start (token, ack, event,
 * expiry clock), finalize of a resumable close (session suspended, seats released or lingering)
 * and of a final one (session ended), the presence linger on fake timers, and idle().
 */

const fixture = domainFixtures();

const k1 = roomKey('t1', 'c1');

describe('ConnectionLifecycleService.start', () => {
  it('activates the session, sends the ack, publishes connection.established and starts the expiry clock', async () => {
    const f = fixture({ options: { heartbeatIntervalMs: 25_000 } });
    const c = f.connect({ userId: 'ann', name: 'Ann' });
    await f.lifecycle.start(c);
    const [ack, ...rest] = c.socket.frames();
    expect(rest).toEqual([]);
    expect(ack).toEqual({
      type: 'connection_ack',
      connectionId: c.id,
      sessionId: c.sessionId,
      userId: 'ann',
      tenantId: 't1',
      reconnectToken: expect.any(String),
      heartbeatIntervalMs: 25_000,
      resumed: false,
      rooms: [],
    });
    expect(await f.sessions.find(ack!.reconnectToken)).toMatchObject({ sessionId: c.sessionId, connectionId: c.id, awayUntil: 0 });
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionEstablished)).toEqual([
      { connectionId: c.id, sessionId: c.sessionId, userId: 'ann', tenantId: 't1', name: 'Ann', ip: '10.0.0.1', resumed: false },
    ]);
    expect(f.expiry.pending).toBe(1);
  });

  it('a connection that closed while its session was being activated gets nothing: no ack, no event, no expiry clock', async () => {
    const f = fixture();
    const c = f.connect();
    const activate = f.sessionStore.activate.bind(f.sessionStore);
    vi.spyOn(f.sessionStore, 'activate').mockImplementationOnce(async (record, hash) => {
      await f.socketClosed(c);
      return activate(record, hash);
    });
    f.events.length = 0;
    await f.lifecycle.start(c);
    expect(c.socket.sent).toEqual([]);
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionEstablished)).toEqual([]);
    expect(f.expiry.pending).toBe(0);
  });

  it('a session store that is down does not keep the connection from opening (the ack still comes)', async () => {
    const f = fixture();
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(f.sessionStore, 'activate').mockRejectedValueOnce(new Error('ECONNREFUSED'));
    const c = f.connect();
    await f.lifecycle.start(c);
    expect(c.socket.takeTypes()).toEqual(['connection_ack']);
  });
});

describe('ConnectionLifecycleService.finalize', () => {
  it('a resumable close suspends the session (token still works, messages kept), releases the seats and reports the close', async () => {
    const f = fixture();
    const { connection: a, token } = await f.open({ userId: 'ann' });
    const { connection: bob } = await f.open({ userId: 'bob' });
    await f.join(a, 'c1');
    await f.join(bob, 'c1');
    f.events.length = 0;
    await f.socketClosed(a, 1006, '');

    expect(a.closed).toBe(true);
    expect(f.connections.get(a.id)).toBeUndefined();
    expect(f.expiry.pending).toBe(1); // bob's only
    const record = await f.sessions.find(token);
    expect(record).toMatchObject({ sessionId: a.sessionId, rooms: ['c1'] });
    expect(record!.awayUntil).toBeGreaterThan(Date.now());
    f.publish(k1, '{"type":"message","data":1}', bob.id);
    expect((await f.sessions.takeMissed(a.sessionId, [k1])).messages.map((m) => JSON.parse(m.frame).data)).toEqual([1]);
    expect(await f.rooms.members('t1', 'c1')).toEqual([{ userId: 'bob', connections: 1 }]);
    expect(f.takeEventNames()).toEqual([ConnectionManagerEvent.RoomLeft, ConnectionManagerEvent.ConnectionClosed]);
  });

  it('connection.closed carries the code the server sent (not ws\u2019s 1006), the cause and resumability', async () => {
    const f = fixture();
    const { connection: a } = await f.open();
    f.connections.close(a, { code: 1013, reason: 'slow consumer', cause: 'slow_consumer', resumable: true });
    f.events.length = 0;
    await f.socketClosed(a, 1006, '');
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionClosed)).toEqual([
      { connectionId: a.id, sessionId: a.sessionId, userId: 'ann', tenantId: 't1', code: 1013, reason: '', cause: 'slow_consumer', resumable: true },
    ]);
  });

  it('a close that is not resumable ends the session (the token stops working) and releases the seats at once', async () => {
    vi.useFakeTimers();
    const f = fixture({ options: { presenceLingerMs: 5000 } });
    const { connection: a, token } = await f.open();
    await f.join(a, 'c1');
    f.connections.close(a, { code: 4001, reason: 'token expired', cause: 'token_expired', resumable: false });
    f.events.length = 0;
    await f.socketClosed(a, 4001, 'token expired');
    expect(await f.sessions.find(token)).toBeUndefined();
    expect(f.sessionStore.size).toBe(0);
    // Not resumable: nothing lingers, even with presenceLingerMs set.
    expect(await f.rooms.members('t1', 'c1')).toEqual([]);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toMatchObject([{ reason: 'disconnect', lastConnectionOfUser: true }]);
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionClosed)).toMatchObject([{ code: 4001, cause: 'token_expired', resumable: false }]);
  });

  it('is idempotent: a second finalize of the same connection publishes nothing', async () => {
    const f = fixture();
    const { connection: a } = await f.open();
    await f.join(a, 'c1');
    await f.socketClosed(a);
    f.events.length = 0;
    await f.socketClosed(a);
    expect(f.events).toEqual([]);
  });

  it('never rejects: a failure during cleanup is logged', async () => {
    const f = fixture();
    const error = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const { connection: a } = await f.open();
    await f.join(a, 'c1');
    vi.spyOn(f.rooms, 'releaseSeat').mockRejectedValueOnce(new Error('boom'));
    await expect(f.socketClosed(a)).resolves.toBeUndefined();
    expect(error).toHaveBeenCalledWith(expect.stringContaining(`cleanup of ${a.id} failed: boom`));
  });
});

describe('ConnectionLifecycleService: presence linger (fake timers)', () => {
  it('a resumable close keeps the user in presence for presenceLingerMs, then releases the seats (room.left)', async () => {
    vi.useFakeTimers();
    const f = fixture({ options: { presenceLingerMs: 5000 } });
    const { connection: a } = await f.open({ userId: 'ann' });
    await f.join(a, 'c1', 'c2');
    f.events.length = 0;
    await f.socketClosed(a);
    expect(f.takeEventNames()).toEqual([ConnectionManagerEvent.ConnectionClosed]);
    expect(await f.rooms.members('t1', 'c1')).toEqual([{ userId: 'ann', connections: 1 }]);
    // Gone from the local fan-out at once, though.
    expect(f.local.size).toBe(0);

    await vi.advanceTimersByTimeAsync(4999);
    expect(f.events).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toMatchObject([
      { connectionId: a.id, canvasId: 'c1', reason: 'disconnect', lastConnectionOfUser: true },
      { connectionId: a.id, canvasId: 'c2', reason: 'disconnect', lastConnectionOfUser: true },
    ]);
    expect(await f.rooms.members('t1', 'c1')).toEqual([]);
    expect(f.lifecycle.takeLingering(a.sessionId)).toBeUndefined();
  });

  it('takeLingering hands the lingering connection over and stops its timer', async () => {
    vi.useFakeTimers();
    const f = fixture({ options: { presenceLingerMs: 5000 } });
    const { connection: a } = await f.open();
    await f.join(a, 'c1');
    await f.socketClosed(a);
    const lingering = f.lifecycle.takeLingering(a.sessionId);
    expect(lingering?.connection).toBe(a);
    expect(lingering?.rooms.map((r) => r.canvasId)).toEqual(['c1']);
    f.events.length = 0;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(f.events).toEqual([]);
    expect(f.lifecycle.takeLingering(a.sessionId)).toBeUndefined();
  });

  it('with presenceLingerMs 0 (the default), or no room, nothing lingers', async () => {
    const f = fixture();
    const { connection: a } = await f.open();
    await f.join(a, 'c1');
    await f.socketClosed(a);
    expect(f.eventsNamed(ConnectionManagerEvent.RoomLeft)).toHaveLength(1);
    expect(f.lifecycle.takeLingering(a.sessionId)).toBeUndefined();
    await f.dispose();

    const g = fixture({ options: { presenceLingerMs: 5000 } });
    const { connection: b } = await g.open();
    await g.socketClosed(b);
    expect(g.lifecycle.takeLingering(b.sessionId)).toBeUndefined();
  });
});

describe('ConnectionLifecycleService.idle', () => {
  it('resolves once every cleanup started so far has finished (fake timers)', async () => {
    vi.useFakeTimers();
    const f = fixture();
    const { connection: a } = await f.open();
    let release!: () => void;
    const suspend = f.sessionStore.suspend.bind(f.sessionStore);
    vi.spyOn(f.sessionStore, 'suspend').mockImplementationOnce(async (...args) => {
      await new Promise<void>((r) => (release = r));
      return suspend(...args);
    });
    const cleanup = f.socketClosed(a);
    let idle = false;
    const waiting = f.lifecycle.idle(10_000).then(() => (idle = true));
    await vi.advanceTimersByTimeAsync(5000);
    expect(idle).toBe(false);
    release();
    await waiting;
    await cleanup;
    expect(f.eventsNamed(ConnectionManagerEvent.ConnectionClosed)).toHaveLength(1);
  });

  it('gives up after timeoutMs when a cleanup hangs (fake timers)', async () => {
    vi.useFakeTimers();
    const f = fixture();
    const { connection: a } = await f.open();
    vi.spyOn(f.sessionStore, 'suspend').mockReturnValueOnce(new Promise<void>(() => undefined));
    void f.socketClosed(a);
    let idle = false;
    void f.lifecycle.idle(2000).then(() => (idle = true));
    await vi.advanceTimersByTimeAsync(1999);
    expect(idle).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(idle).toBe(true);
  });

  it('resolves at once when nothing is being cleaned up', async () => {
    vi.useFakeTimers();
    const f = fixture();
    let idle = false;
    void f.lifecycle.idle(2000).then(() => (idle = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(idle).toBe(true);
  });
});
