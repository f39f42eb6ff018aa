import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';

/**
 * Issue 12 §2, with the write batch: bytes the batch holds until the end of the event-loop
 * turn count in `bufferedAmount`, but they are not late. The outbound bound writes them out
 * before it decides that a socket is over `maxBufferedBytes`, so a burst within one turn to a
 * client that reads is never taken for a slow consumer.
 *
 * Set-up: a join is answered with room_joined + presence_state held as one write; with 40
 * members of long user ids, presence_state alone (≈ 3.6 KB) is over the 2 KiB bound. A ping
 * sent in the same TCP write as the join is handled in the same turn, right after the join,
 * while that reply is still held: its pong must go out, not close the connection.
 */

const MAX = 2048;
const pad = 'p'.repeat(60);

describe('outbound bound and the write batch', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('a reply held by the write batch is not taken for a slow consumer: join + ping in one write get room_joined, presence_state and pong', async () => {
    t = await TestApp.create({ options: { maxBufferedBytes: MAX, messageRateLimit: 1000, rateLimitPoints: 1000 } });
    for (let i = 0; i < 40; i++) {
      const member = await t.connect({ sub: `user-${String(i).padStart(2, '0')}-${pad}` });
      await member.join('c1');
    }
    const joiner = await t.connect({ sub: 'joiner' });
    const tcp = (joiner.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    tcp.cork();
    joiner.send({ type: 'join', canvasId: 'c1', id: 'j' });
    joiner.send({ type: 'ping', id: 'p' });
    tcp.uncork();

    expect(await joiner.next()).toMatchObject({ type: 'room_joined', id: 'j' });
    const state = await joiner.next();
    expect(state.type).toBe('presence_state');
    expect(state.members).toHaveLength(41);
    expect(JSON.stringify(state).length).toBeGreaterThan(MAX);
    expect(await joiner.next()).toEqual({ type: 'pong', id: 'p' });
    expect(t.eventsNamed('connection.closed')).toEqual([]);
    expect(joiner.ws.readyState).toBe(joiner.ws.OPEN);
  });
});
