import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpLogsOnFailure, startDeployment, takeFrames, uniqueTenant, until, type ClusterClient, type Deployment } from './support/instance-harness.js';

/** `<epoch>.<n>` → n. */
const nOf = (pos: string): number => Number(pos.slice(pos.indexOf('.') + 1));

function positions(client: ClusterClient): Array<{ data: unknown; pos: string }> {
  return takeFrames(client, (f) => f.type === 'message').map((f) => ({ data: f.data, pos: f.pos as string }));
}

/**
 * The writer's instance delivers its own room messages from the log script's reply while no other
 * instance has members of the room, and from the bus once one has (issue 15, the Redis row). Two
 * instances on one real redis-server: a member streams messages on instance A, alone in the room,
 * while a member joins on instance B and streams too. A's other member must still see every
 * position after its join exactly once and in order (consecutive numbers), across the moment the
 * room stops being A's alone; B's member sees every one of A's messages after its join, in order.
 */
describe('room messages across the moment a room stops being one instance’s alone', () => {
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
    const first = nOf(danJoined.pos as string);
    expect(danSaw.map((m) => nOf(m.pos))).toEqual(Array.from({ length: danSaw.length }, (_, i) => first + 1 + i));
    expect(danSaw).toHaveLength(annSent + 1 + 20);

    const bobSaw = positions(bob);
    const after = nOf(bobJoined.pos as string);
    const bobNs = bobSaw.map((m) => nOf(m.pos));
    expect(bobNs.every((n, i) => n > after && (i === 0 || n > bobNs[i - 1]))).toBe(true);
    // Every message of Ann's with a position after Bob's join reached him.
    const annAfterJoin = danSaw.filter((m) => !String(m.data).startsWith('b') && nOf(m.pos) > after).map((m) => m.data);
    expect(annAfterJoin.length).toBeGreaterThanOrEqual(21);
    expect(bobSaw.map((m) => m.data)).toEqual(annAfterJoin);
  }, 60_000);
});
