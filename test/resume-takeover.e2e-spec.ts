import { afterEach, describe, expect, it } from 'vitest';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';
import { frozenPeer, type FrozenPeer } from './support/continuity.js';

/**
 * Takeover (issue 3): a reconnect token presented while its connection still looks open (a
 * half-open TCP connection the heartbeat has not caught yet) closes the old connection with
 * 4000 "session resumed elsewhere" and resumes on the new one, without loss.
 */

const messagesOf = (frames: Array<{ type: string; data?: unknown }>): number[] => frames.filter((f) => f.type === 'message').map((f) => f.data as number);

describe('resume: takeover of a connection that still looks open', () => {
  let t: TestApp;
  let frozen: FrozenPeer | undefined;
  afterEach(async () => {
    frozen?.destroy();
    frozen = undefined;
    await t.close();
  });

  it('the old connection gets 4000 "session resumed elsewhere"; the new one has its rooms; messages around the takeover arrive exactly once', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await alice.join('c2');
    await bob.join('c1');
    await alice.settle();
    await bob.settle();

    // bob streams numbered messages to c1 from before the takeover until after it.
    let n = 0;
    const timer = setInterval(() => bob.send({ type: 'message', canvasId: 'c1', data: n++ }), 4);
    let back;
    try {
      await t.until(() => n >= 10, 3000, 'the stream to start');
      back = await t.resume(alice.ack.reconnectToken);
      const afterAck = n;
      await t.until(() => n >= afterAck + 10, 3000, 'the stream to go on');
    } finally {
      clearInterval(timer);
    }
    const total = n;
    await t.until(() => t.eventsNamed('connection.message').length === total, 5000, 'every message routed');

    expect(await alice.closed).toEqual({ code: 4000, reason: 'session resumed elsewhere' });
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId, userId: 'alice' });
    expect([...back.ack.rooms].sort()).toEqual(['c1', 'c2']);
    const frames = await back.settle();
    expect(frames.slice(0, 2).map((f) => f.type)).toEqual(['presence_state', 'presence_state']);
    // The presence the new connection is shown counts it once (the old connection is gone).
    expect(frames.find((f) => f.canvasId === 'c1')!.members).toEqual(
      expect.arrayContaining([
        { userId: 'alice', connections: 1 },
        { userId: 'bob', connections: 1 },
      ]),
    );
    expect(frames.slice(2).every((f) => f.type === 'message')).toBe(true);

    const before = messagesOf(alice.frames);
    const after = messagesOf(frames);
    // Old connection: a prefix of the stream; new connection: the rest, each exactly once.
    expect(before).toEqual(Array.from({ length: before.length }, (_, i) => i));
    expect(after).toEqual(Array.from({ length: total - before.length }, (_, i) => before.length + i));
    expect(after.length).toBeGreaterThanOrEqual(10);

    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({ connectionId: alice.ack.connectionId, code: 4000, cause: 'session_taken_over' });
    expect(t.eventsNamed('session.resumed')).toEqual([
      expect.objectContaining({ connectionId: back.ack.connectionId, previousConnectionId: alice.ack.connectionId, sessionId: alice.ack.sessionId }),
    ]);
    // One seat per connection: the old connection's membership is gone.
    expect(await t.get(RoomService).members('t1', 'c1')).toEqual(
      expect.arrayContaining([
        { userId: 'alice', connections: 1 },
        { userId: 'bob', connections: 1 },
      ]),
    );
  });

  it('a half-open predecessor that reads nothing is taken over too; what is sent after the takeover reaches the new connection once', async () => {
    t = await TestApp.create();
    const bob = await t.connect({ sub: 'bob' });
    await bob.join('c1');
    frozen = await frozenPeer(t.port, `/ws?token=${encodeURIComponent(t.token({ sub: 'alice' }))}`);
    frozen.sendText(JSON.stringify({ type: 'join', canvasId: 'c1', id: 'j' }));
    await t.until(() => t.eventsNamed('room.joined').some((e) => e.userId === 'alice'), 3000, 'alice joined');
    await bob.settle();

    const back = await t.resume(frozen.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, sessionId: frozen.ack.sessionId, rooms: ['c1'] });
    expect(await back.next()).toMatchObject({ type: 'presence_state', canvasId: 'c1' });
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({
      connectionId: frozen.ack.connectionId,
      code: 4000,
      cause: 'session_taken_over',
      resumable: false,
    });

    for (let i = 0; i < 3; i++) bob.send({ type: 'message', canvasId: 'c1', data: i });
    // bob's pong: his three messages were routed; back's pong: all they sent it is in its inbox.
    await bob.settle();
    expect(messagesOf(await back.settle())).toEqual([0, 1, 2]);
    expect(await t.get(RoomService).members('t1', 'c1')).toEqual(
      expect.arrayContaining([
        { userId: 'alice', connections: 1 },
        { userId: 'bob', connections: 1 },
      ]),
    );
  });
});
