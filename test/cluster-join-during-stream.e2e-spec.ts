import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dumpLogsOnFailure,
  positionNumber,
  startDeployment,
  takeFrames,
  uniqueTenant,
  until,
  type ClusterClient,
  type Deployment,
} from './support/instance-harness.js';

function positions(client: ClusterClient): Array<{ data: unknown; pos: string }> {
  return takeFrames(client, (f) => f.type === 'message').map((f) => ({ data: f.data, pos: f.pos as string }));
}

/**
 * A room streaming on one instance while a member joins on another (two instances on one real
 * redis-server): the room is first one instance's alone, then both instances' members stream.
 * Ann's other member, Dan, must see every position after his join exactly once and in order
 * (consecutive numbers); Bob, who joins on B during the stream, must see only positions after his
 * `room_joined.pos`, in order, and every one of Ann's messages after it.
 *
 * The race this guards: B's join is attached, then awaits the members while the messages B's bus
 * brings are held for Bob; room_joined.pos was read after that await, so it named a position Bob
 * then got again from the held frames (and B's bus can also bring messages at or below the log
 * head the join read). The code before the fix failed here 4 times in 6 with both cores busy,
 * and 1 CI run in 1; the fix (the position read at the attach, and a floor there) 0 in 6.
 */
describe('a member joining on another instance while a room streams', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('single', 2);
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  it('every member sees every position after its join once, in order, while writers on both instances stream', async () => {
    const tenantId = uniqueTenant('own');
    const [A, B] = d.instances;
    const ann = await A.connect({ sub: 'ann', tenantId });
    const dan = await A.connect({ sub: 'dan', tenantId });
    await ann.join('c1');
    const danJoined = await dan.join('c1');

    // Ann streams in bursts of 5 until Bob, joining on B during the stream, has sent his 20 and
    // she has sent 20 more after that; then she sends 'end'.
    let annSent = 0;
    let stopAfter = Infinity;
    const annDone = (async () => {
      while (annSent < stopAfter) {
        ann.send({ type: 'message', canvasId: 'c1', data: `a${annSent++}` });
        if (annSent % 5 === 0) await new Promise((r) => setTimeout(r, 3));
      }
      ann.send({ type: 'message', canvasId: 'c1', data: 'end' });
    })();
    await until(() => dan.frames.filter((f) => f.type === 'message').length >= 10, 10_000, 'ten of ann’s messages on dan');
    const bob = await B.connect({ sub: 'bob', tenantId });
    const bobJoined = await bob.join('c1');
    for (let i = 0; i < 20; i++) bob.send({ type: 'message', canvasId: 'c1', data: `b${i}` });
    stopAfter = annSent + 20;
    await annDone;

    const seenBy = (client: ClusterClient, data: string) => client.frames.some((f) => f.type === 'message' && f.data === data);
    await until(() => seenBy(dan, 'end') && seenBy(dan, 'b19') && seenBy(bob, 'end'), 15_000, 'the last messages on dan and bob');

    const danSaw = positions(dan);
    const first = positionNumber(danJoined.pos as string);
    expect(danSaw.map((m) => positionNumber(m.pos))).toEqual(Array.from({ length: danSaw.length }, (_, i) => first + 1 + i));
    expect(danSaw).toHaveLength(annSent + 1 + 20);

    const bobSaw = positions(bob);
    const after = positionNumber(bobJoined.pos as string);
    const bobNs = bobSaw.map((m) => positionNumber(m.pos));
    expect(bobNs.every((n, i) => n > after && (i === 0 || n > bobNs[i - 1]))).toBe(true);
    // Every message of Ann's with a position after Bob's join reached him.
    const annAfterJoin = danSaw.filter((m) => !String(m.data).startsWith('b') && positionNumber(m.pos) > after).map((m) => m.data);
    expect(annAfterJoin.length).toBeGreaterThanOrEqual(21);
    expect(bobSaw.map((m) => m.data)).toEqual(annAfterJoin);
  }, 60_000);
});
