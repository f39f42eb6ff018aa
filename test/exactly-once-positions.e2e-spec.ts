import { afterEach, describe, expect, it } from 'vitest';
import { encodeResumePositions } from '../src/protocol/resume-positions.js';
import { TestApp } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

/**
 * Issue 16, receiving side (one instance, in memory): every room message carries its position in
 * the room's log, `room_joined` the position the joiner receives from, and a resume with the
 * client's last processed positions replays exactly what came after them, once each, in order,
 * never the client's own; `truncated` only when a position fell out of the log or is of another epoch.
 */

/** Sends `data` as `from` and waits until `to` got it (the frame proves it was routed). */
async function sendAndSee(from: TestClient, to: TestClient, data: unknown): Promise<ServerFrame> {
  from.send({ type: 'message', canvasId: 'c1', data });
  for (;;) {
    const frame = await to.next('message');
    if (JSON.stringify(frame.data) === JSON.stringify(data)) return frame;
  }
}

function positionsQuery(positions: Record<string, string>): string {
  return `positions=${encodeResumePositions(positions)}`;
}

describe('room logs with positions (memory)', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('room_joined carries the position the joiner receives from; messages carry consecutive positions of one epoch', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    const joined = await alice.join('c1');
    expect(joined.pos).toMatch(/^[a-z0-9]{1,16}\.0$/);
    await bob.join('c1');
    const m1 = await sendAndSee(bob, alice, 1);
    const m2 = await sendAndSee(bob, alice, 2);
    const [epoch] = (joined.pos as string).split('.');
    expect([m1.pos, m2.pos]).toEqual([`${epoch}.1`, `${epoch}.2`]);
    // A later joiner starts from the head.
    const carol = await t.connect({ sub: 'carol' });
    expect((await carol.join('c1')).pos).toBe(`${epoch}.2`);
  });

  it('a resume with positions replays exactly after them, even what the old connection had received but not processed, never the own messages', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.join('c1');
    await bob.join('c1');
    const m1 = await sendAndSee(bob, alice, 1);
    await sendAndSee(bob, alice, 2); // received, but the app had processed only message 1
    await sendAndSee(alice, bob, 'own');
    await alice.close(1000);
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    const routed = t.eventsNamed('connection.message').length;
    bob.send({ type: 'message', canvasId: 'c1', data: 3 });
    await t.until(() => t.eventsNamed('connection.message').length === routed + 1);

    const back = await t.connect(null, { query: `reconnectToken=${encodeURIComponent(alice.ack.reconnectToken)}&${positionsQuery({ c1: m1.pos as string })}` });
    expect(back.ack).toMatchObject({ resumed: true, rooms: ['c1'], missed: 'replayed', lastSeq: 0 });
    const replay = (await back.settle()).filter((f) => f.type === 'message');
    expect(replay.map((f) => f.data)).toEqual([2, 3]);
  });

  it('the subprotocol form works too, and "none" when nothing came after the positions', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const joined = await alice.join('c1');
    await alice.close(1000);
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    const back = await t.connect(null, {
      protocols: ['canvas.v1', `canvas.resume.${alice.ack.reconnectToken}`, `canvas.pos.${encodeResumePositions({ c1: joined.pos as string })}`],
    });
    expect(back.ack).toMatchObject({ resumed: true, missed: 'none' });
  });

  it('truncated when a position fell out of the bounded log: what is kept is replayed', async () => {
    t = await TestApp.create({ options: { resumeBufferMessages: 3 } });
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    const joined = await alice.join('c1');
    await bob.join('c1');
    await alice.close(1000);
    await t.until(() => t.eventsNamed('connection.closed').length === 1);
    for (const n of [1, 2, 3, 4, 5]) bob.send({ type: 'message', canvasId: 'c1', data: n });
    await t.until(() => t.eventsNamed('connection.message').length === 5);
    await bob.settle();
    const back = await t.connect(null, {
      query: `reconnectToken=${encodeURIComponent(alice.ack.reconnectToken)}&${positionsQuery({ c1: joined.pos as string })}`,
    });
    expect(back.ack).toMatchObject({ missed: 'truncated' });
    expect((await back.settle()).filter((f) => f.type === 'message').map((f) => f.data)).toEqual([3, 4, 5]);
  });

  it('malformed positions are refused with 400 BAD_REQUEST before any socket opens', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    for (const bad of ['%%%', encodeResumePositions({ c1: 'not-a-position' }), Buffer.from('c1=a.1,c1=a.2').toString('base64url')]) {
      const refusal = await t.refusal(`?reconnectToken=${encodeURIComponent(alice.ack.reconnectToken)}&positions=${encodeURIComponent(bad)}`);
      expect(refusal).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } });
    }
  });
});
