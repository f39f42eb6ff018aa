import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';

describe('resume with a reconnect token', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('restores rooms, sends presence_state, then the missed messages in order, each once', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice', name: 'Alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await alice.join('c2');
    await bob.join('c1');
    await bob.join('c2');
    await alice.settle();
    await bob.settle();

    await alice.close(1001);
    await bob.next('presence_leave');
    for (let i = 0; i < 5; i++) bob.send({ type: 'message', canvasId: i % 2 ? 'c1' : 'c2', data: { i } });
    await t.until(() => t.eventsNamed('connection.message').length === 5);

    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ type: 'connection_ack', resumed: true, sessionId: alice.ack.sessionId, missed: 'replayed' });
    expect(back.ack.connectionId).not.toBe(alice.ack.connectionId);
    expect(back.ack.rooms.sort()).toEqual(['c1', 'c2']);
    const states = [await back.next(), await back.next()];
    expect(states.map((f) => f.type)).toEqual(['presence_state', 'presence_state']);
    const replay = [];
    for (let i = 0; i < 5; i++) replay.push(await back.next());
    expect(replay.map((f) => f.data.i)).toEqual([0, 1, 2, 3, 4]);
    expect(await back.settle()).toEqual([]);
    expect(t.eventsNamed('session.resumed')).toHaveLength(1);
  });
});
