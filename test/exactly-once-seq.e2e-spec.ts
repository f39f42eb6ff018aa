import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';

/**
 * Issue 16, sending side (one instance): a `message` with `seq` is acknowledged once accepted;
 * a resend (same connection, or after a resume) is acknowledged again and not delivered again;
 * a bad `seq` is BAD_REQUEST with nothing delivered; a refused one echoes its seq; a resumed
 * ack carries the session's `lastSeq`.
 */
describe('acknowledged idempotent publish (memory)', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('acks each seq (with its id), delivers once, and acks a resend without delivering it', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await bob.join('c1');
    alice.send({ type: 'message', canvasId: 'c1', data: 'one', seq: 1, id: 'm1' });
    expect(await alice.next('ack')).toEqual({ type: 'ack', seq: 1, id: 'm1' });
    alice.send({ type: 'message', canvasId: 'c1', data: 'two', seq: 2 });
    expect(await alice.next('ack')).toEqual({ type: 'ack', seq: 2 });
    alice.send({ type: 'message', canvasId: 'c1', data: 'one again', seq: 1 });
    expect(await alice.next('ack')).toEqual({ type: 'ack', seq: 1 });
    alice.send({ type: 'message', canvasId: 'c1', data: 'three', seq: 3 });
    expect(await alice.next('ack')).toEqual({ type: 'ack', seq: 3 });
    const seen = (await bob.settle()).filter((f) => f.type === 'message').map((f) => f.data);
    expect(seen).toEqual(['one', 'two', 'three']);
  });

  it('a seq that is not a positive safe integer is BAD_REQUEST (id echoed): nothing delivered, nothing acked', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await bob.join('c1');
    const bad = [0, -1, 1.5, '7', 2 ** 53, null, true];
    for (const [i, seq] of bad.entries()) {
      alice.send({ type: 'message', canvasId: 'c1', data: i, seq, id: `bad-${i}` });
      expect(await alice.next('error')).toMatchObject({ type: 'error', code: 'BAD_REQUEST', id: `bad-${i}` });
    }
    expect((await bob.settle()).filter((f) => f.type === 'message')).toEqual([]);
  });

  it('a message with seq to a room the connection is not in is NOT_IN_ROOM with its seq: not accepted', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    alice.send({ type: 'message', canvasId: 'elsewhere', data: 1, seq: 5, id: 'x' });
    expect(await alice.next()).toMatchObject({ type: 'error', code: 'NOT_IN_ROOM', id: 'x', seq: 5 });
    // Not accepted: the same seq in a room is new, not a resend.
    await alice.join('c1');
    alice.send({ type: 'message', canvasId: 'c1', data: 2, seq: 5 });
    expect(await alice.next('ack')).toEqual({ type: 'ack', seq: 5 });
  });

  it('the resumed ack carries lastSeq; resends at or below it are acked and not delivered again, above it delivered', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await bob.join('c1');
    for (const seq of [1, 2, 3]) alice.send({ type: 'message', canvasId: 'c1', data: seq, seq });
    for (const seq of [1, 2, 3]) expect(await alice.next('ack')).toEqual({ type: 'ack', seq });
    await alice.close(1000);
    await t.until(() => t.eventsNamed('connection.closed').length === 1);

    const back = await t.resume(alice.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, lastSeq: 3 });
    // The SDK would resend only above lastSeq; a resend below it is harmless.
    for (const seq of [2, 3, 4]) back.send({ type: 'message', canvasId: 'c1', data: seq, seq });
    for (const seq of [2, 3, 4]) expect(await back.next('ack')).toEqual({ type: 'ack', seq });
    expect((await bob.settle()).filter((f) => f.type === 'message').map((f) => f.data)).toEqual([1, 2, 3, 4]);
    // A fresh ack has no lastSeq.
    expect(alice.ack).not.toHaveProperty('lastSeq');
  });

  it('a message with seq dropped by the rate limit (or refused as malformed) gets its error with the seq: it was not accepted', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 3 } });
    const alice = await t.connect({ sub: 'alice' });
    await alice.join('c1');
    await alice.settle();
    for (let seq = 1; seq <= 6; seq++) alice.send({ type: 'message', canvasId: 'c1', data: seq, seq });
    const replies = (await alice.settleBelowRate()).filter((f) => f.type === 'ack' || f.type === 'error');
    const settled = replies.map((f) => `${f.type}:${f.seq}`);
    // Every seq is settled once: acked, or RATE_LIMITED with its seq.
    expect(settled.map((s) => s.split(':')[1]).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(replies.filter((f) => f.type === 'error').every((f) => f.code === 'RATE_LIMITED')).toBe(true);
    expect(replies.some((f) => f.type === 'error')).toBe(true);
    await new Promise((r) => setTimeout(r, 1100)); // the next one-second rate window
    alice.send({ type: 'message', canvasId: 'c1', seq: 7 });
    expect(await alice.next('error')).toMatchObject({ code: 'BAD_REQUEST', seq: 7 });
  });
});
