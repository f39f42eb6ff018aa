import { Logger } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { domainFixtures } from '../../../test/support/domain-fixture.js';
import { ConnectionManagerEvent } from '../../kernel/connection-manager.events.js';
import { roomKey } from '../rooms/room-key.js';
import { hashReconnectToken } from './reconnect-token.js';
import { identityOf } from './session.service.js';

/**
 * SessionService against the real in-memory session store: single-use reconnect tokens of
 * which only the hash is stored, suspend/append/takeMissed (the replay buffer), the TTL of an
 * away session (fake timers), the stored room list kept current from room events, end, and
 * store outages that never reach the caller.
 */

const fixture = domainFixtures();

const k1 = roomKey('t1', 'c1');

describe('SessionService: reconnect tokens', () => {
  it('activate gives a fresh 192-bit token each time; only its SHA-256 is stored, and only the newest works', async () => {
    const f = fixture();
    const c = f.connect({ userId: 'ann', name: 'Ann', canvases: ['c1', 'c2'] });
    await f.join(c, 'c1');
    const activate = vi.spyOn(f.sessionStore, 'activate');
    const first = await f.sessions.activate(c);
    const second = await f.sessions.activate(c);
    expect(first).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(second).not.toBe(first);
    expect(activate.mock.calls.map(([, hash]) => hash)).toEqual([hashReconnectToken(first), hashReconnectToken(second)]);
    expect(JSON.stringify(activate.mock.calls)).not.toContain(first);
    expect(c.tokenHash).toBe(hashReconnectToken(second));
    expect(await f.sessions.find(first)).toBeUndefined();
    expect(await f.sessions.find(second)).toEqual({
      sessionId: c.sessionId,
      userId: 'ann',
      tenantId: 't1',
      name: 'Ann',
      canvases: ['c1', 'c2'],
      expiresAt: c.identity.expiresAt,
      credentialDeadline: c.identity.expiresAt + f.options.reauthGraceMs,
      connectionId: c.id,
      rooms: ['c1'],
      awayUntil: 0,
    });
  });

  it('find does not use a token up; claim does, once', async () => {
    const f = fixture();
    const { connection: c, token } = await f.open();
    expect(await f.sessions.find(token)).toMatchObject({ sessionId: c.sessionId });
    expect(await f.sessions.find(token)).toMatchObject({ sessionId: c.sessionId });
    expect(await f.sessions.claim(token)).toMatchObject({ sessionId: c.sessionId });
    expect(await f.sessions.claim(token)).toBeUndefined();
    expect(await f.sessions.find(token)).toBeUndefined();
    expect(await f.sessions.claim('not-a-token')).toBeUndefined();
  });

  it('activate still returns a token when the store is down (the connection opens; reactivate registers it later)', async () => {
    const f = fixture();
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const c = f.connect();
    vi.spyOn(f.sessionStore, 'activate').mockRejectedValueOnce(new Error('ECONNREFUSED'));
    const token = await f.sessions.activate(c);
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('session store unavailable, session not yet resumable'));
    expect(await f.sessions.find(token)).toBeUndefined();
    await f.sessions.reactivate(c);
    expect(await f.sessions.find(token)).toMatchObject({ sessionId: c.sessionId, connectionId: c.id });
  });

  it('newSessionId is a fresh UUID', () => {
    const f = fixture();
    const ids = new Set([f.sessions.newSessionId(), f.sessions.newSessionId()]);
    expect(ids.size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('SessionService: away sessions and their replay buffer', () => {
  it('suspend keeps the session resumable for reconnectTokenTtlMs, starting the buffer with what reached the connection while closing', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const f = fixture({ options: { reconnectTokenTtlMs: 60_000 } });
    const { connection: c, token } = await f.open();
    c.closingBuffer = [{ roomKey: k1, id: 'i:1', frame: 'while-closing' }];
    await f.sessions.suspend(c, [k1], ['c1']);
    expect(c.closingBuffer).toBeNull();
    expect(await f.sessions.find(token)).toMatchObject({ rooms: ['c1'], awayUntil: 1_060_000 });
    f.sessions.append(k1, 'i:2', 'later');
    f.sessions.append(roomKey('t1', 'other'), 'i:3', 'other room');
    expect(await f.sessions.takeMissed(c.sessionId, [k1])).toEqual({
      messages: [
        { roomKey: k1, id: 'i:1', frame: 'while-closing' },
        { roomKey: k1, id: 'i:2', frame: 'later' },
      ],
      truncated: false,
    });
    // Taken once: buffering stopped.
    f.sessions.append(k1, 'i:4', 'after');
    expect(await f.sessions.takeMissed(c.sessionId, [k1])).toEqual({ messages: [], truncated: false });
  });

  it('the buffer is bounded by resumeBufferMessages: the oldest go and the replay says truncated', async () => {
    const f = fixture({ options: { resumeBufferMessages: 2 } });
    const { connection: c } = await f.open();
    await f.sessions.suspend(c, [k1], ['c1']);
    for (const n of [1, 2, 3]) f.sessions.append(k1, `i:${n}`, `m${n}`);
    const missed = await f.sessions.takeMissed(c.sessionId, [k1]);
    expect(missed.messages.map((m) => m.frame)).toEqual(['m2', 'm3']);
    expect(missed.truncated).toBe(true);
  });

  it('an away session expires after reconnectTokenTtlMs: session.expired with its rooms, and the token stops working', async () => {
    vi.useFakeTimers();
    const f = fixture({ options: { reconnectTokenTtlMs: 60_000 } });
    const { connection: c, token } = await f.open({ userId: 'ann' });
    await f.sessions.suspend(c, [k1], ['c1']);
    await vi.advanceTimersByTimeAsync(59_999);
    expect(f.eventsNamed(ConnectionManagerEvent.SessionExpired)).toEqual([]);
    expect(await f.sessions.find(token)).toBeDefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(f.eventsNamed(ConnectionManagerEvent.SessionExpired)).toEqual([{ sessionId: c.sessionId, userId: 'ann', tenantId: 't1', rooms: ['c1'] }]);
    expect(await f.sessions.find(token)).toBeUndefined();
  });

  it('a store that fails on suspend or end is logged, never thrown to the caller', async () => {
    const f = fixture();
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { connection: c } = await f.open();
    vi.spyOn(f.sessionStore, 'suspend').mockRejectedValueOnce(new Error('ECONNRESET'));
    vi.spyOn(f.sessionStore, 'remove').mockRejectedValueOnce(new Error('ECONNRESET'));
    await expect(f.sessions.suspend(c, [k1], ['c1'])).resolves.toBeUndefined();
    await expect(f.sessions.end(c.sessionId)).resolves.toBeUndefined();
    expect(warn.mock.calls.map(([m]) => String(m))).toEqual([
      expect.stringContaining('session not kept for resume'),
      expect.stringContaining('unavailable on session end'),
    ]);
  });

  it('end forgets the session and its token for good', async () => {
    const f = fixture();
    const { connection: c, token } = await f.open();
    await f.sessions.suspend(c, [k1], ['c1']);
    await f.sessions.end(c.sessionId);
    expect(await f.sessions.find(token)).toBeUndefined();
    expect(f.sessionStore.size).toBe(0);
    expect(f.sessionStore.awayCount).toBe(0);
  });
});

describe('SessionService: the stored room list of a connected session', () => {
  it('follows room.joined and room.left, so a crash-resume restores the rooms the session was in', async () => {
    const f = fixture();
    const { connection: c, token } = await f.open();
    await f.join(c, 'c1', 'c2');
    await vi.waitFor(async () => expect((await f.sessions.find(token))?.rooms).toEqual(['c1', 'c2']));
    await f.rooms.leave(c, 'c1');
    await vi.waitFor(async () => expect((await f.sessions.find(token))?.rooms).toEqual(['c2']));
  });

  it('stops following after application shutdown (its listeners are detached)', async () => {
    const f = fixture();
    const { connection: c, token } = await f.open();
    await f.join(c, 'c1');
    const removeRoom = vi.spyOn(f.sessionStore, 'removeRoom');
    f.sessions.onApplicationShutdown();
    await f.rooms.leave(c, 'c1');
    expect(removeRoom).not.toHaveBeenCalled();
    expect((await f.sessions.find(token))?.rooms).toEqual(['c1']);
  });

  it('ignores events of a connection that is gone', async () => {
    const f = fixture();
    const removeRoom = vi.spyOn(f.sessionStore, 'removeRoom');
    f.sessions.onRoomLeft({ connectionId: 'unknown', sessionId: 's', canvasId: 'c1' });
    const { connection: c } = await f.open();
    c.closed = true;
    f.sessions.onRoomLeft({ connectionId: c.id, sessionId: c.sessionId, canvasId: 'c1' });
    expect(removeRoom).not.toHaveBeenCalled();
  });
});

describe('identityOf', () => {
  it('gives a resumed session without a new JWT the identity it had (same fields, same shape)', () => {
    expect(
      identityOf({
        sessionId: 's',
        userId: 'ann',
        tenantId: 't1',
        name: 'Ann',
        canvases: ['c1'],
        expiresAt: 42,
        credentialDeadline: 30_042,
        connectionId: 'c',
        rooms: [],
        awayUntil: 1,
      }),
    ).toEqual({ userId: 'ann', tenantId: 't1', name: 'Ann', canvases: ['c1'], expiresAt: 42 });
    expect(
      Object.keys(
        identityOf({ sessionId: 's', userId: 'u', tenantId: 't', expiresAt: 1, credentialDeadline: 30_001, connectionId: 'c', rooms: [], awayUntil: 0 }),
      ),
    ).toEqual(['userId', 'tenantId', 'name', 'canvases', 'expiresAt']);
  });
});
