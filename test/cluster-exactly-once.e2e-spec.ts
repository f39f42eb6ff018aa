import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeResumePositions } from '../src/protocol/resume-positions.js';
import { dumpLogsOnFailure, startDeployment, uniqueTenant, waitFor, type ClusterClient, type Deployment } from './support/instance-harness.js';

/**
 * Issue 16 in cluster mode (3 instances on one real redis-server): the room log lives in Redis,
 * so a session that was live on an instance killed with SIGKILL resumes on another one and gets
 * exactly what came after its positions; `seq` dedup holds across instances (a resend after the
 * crash is acked, not delivered again), `lastSeq` survives the crash; a lost log (FLUSHALL: a
 * Redis restart without persistence) changes the epoch and the resume says `truncated`.
 */
const LEASE_MS = 1500;

async function sendSeq(client: ClusterClient, canvasId: string, seq: number, data: unknown): Promise<void> {
  client.send({ type: 'message', canvasId, data, seq });
  await waitFor(client, (f) => f.type === 'ack' && f.seq === seq, 10_000, `ack ${seq}`);
}

async function messagesUntil(client: ClusterClient, last: unknown): Promise<Array<{ data: unknown; pos: string }>> {
  const out: Array<{ data: unknown; pos: string }> = [];
  for (;;) {
    const f = await waitFor(client, (m) => m.type === 'message', 10_000, `message ${JSON.stringify(last)}`);
    out.push({ data: f.data, pos: f.pos });
    if (JSON.stringify(f.data) === JSON.stringify(last)) return out;
  }
}

describe('exactly-once across instances (single Redis)', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment('single', 3, { WS_INSTANCE_LEASE_MS: String(LEASE_MS) });
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  it('a session live on a SIGKILLed instance resumes elsewhere with exactly the messages after its positions; seq dedup and lastSeq survive', async () => {
    const tenantId = uniqueTenant('eo');
    const [A, B, C] = d.instances;
    const alice = await A.connect({ sub: 'alice', tenantId });
    const bob = await B.connect({ sub: 'bob', tenantId });
    const carol = await C.connect({ sub: 'carol', tenantId });
    const joined = await alice.join('c1');
    expect(joined.pos).toMatch(/^\d{16}\.\d+$/);
    await bob.join('c1');
    await carol.join('c1');

    await sendSeq(bob, 'c1', 1, 'b1');
    await sendSeq(alice, 'c1', 1, 'a1');
    await sendSeq(alice, 'c1', 2, 'a2');
    const seen = await messagesUntil(alice, 'b1');
    expect(seen.map((m) => m.data)).toEqual(['b1']);
    // Positions are the log's, the same on every instance.
    const carolSaw = await messagesUntil(carol, 'a2');
    expect(carolSaw.map((m) => m.data)).toEqual(['b1', 'a1', 'a2']);
    expect(carolSaw[0].pos).toBe(seen[0].pos);

    await A.stop('SIGKILL');
    await sendSeq(bob, 'c1', 2, 'b2');
    await sendSeq(carol, 'c1', 1, 'c1');

    const back = await B.connect(null, {
      query: `reconnectToken=${encodeURIComponent(alice.ack.reconnectToken)}&positions=${encodeResumePositions({ c1: seen[0].pos })}`,
    });
    expect(back.ack).toMatchObject({ resumed: true, rooms: ['c1'], missed: 'replayed', lastSeq: 2 });
    expect((await messagesUntil(back, 'c1')).map((m) => m.data)).toEqual(['b2', 'c1']);

    // The ack of a2 may have been lost with the crash: its resend is acked and nobody gets it twice.
    await sendSeq(back, 'c1', 2, 'a2');
    await sendSeq(back, 'c1', 3, 'a3');
    expect((await messagesUntil(carol, 'a3')).map((m) => m.data)).toEqual(['b2', 'a3']);
    await A.restart();
    await A.ready();
  }, 90_000);

  it('a resume with a position of a lost log (FLUSHALL) is truncated; one with the current head is none', async () => {
    const tenantId = uniqueTenant('epoch');
    const [, B, C] = d.instances;
    const alice = await B.connect({ sub: 'alice', tenantId });
    const bob = await C.connect({ sub: 'bob', tenantId });
    await alice.join('c1');
    await bob.join('c1');
    await sendSeq(bob, 'c1', 1, 'before');
    const [before] = await messagesUntil(alice, 'before');
    await alice.close(1000);
    await d.redis.onEveryNode(['FLUSHALL']);
    // The sessions are gone with the flush: a new session, same story for its position.
    const again = await B.connect({ sub: 'alice', tenantId });
    const rejoined = await again.join('c1');
    expect(rejoined.pos.split('.')[0]).not.toBe(before.pos.split('.')[0]);
    await again.close(1000);
    await waitFor(bob, (f) => f.type === 'presence_leave' || f.type === 'message', 10_000).catch(() => undefined);
    const stale = await C.connect(null, {
      query: `reconnectToken=${encodeURIComponent(again.ack.reconnectToken)}&positions=${encodeResumePositions({ c1: before.pos })}`,
    });
    expect(stale.ack).toMatchObject({ resumed: true, missed: 'truncated' });
    await stale.close(1000);
    const fresh = await C.connect({ sub: 'alice', tenantId });
    const j = await fresh.join('c1');
    await fresh.close(1000);
    const current = await B.connect(null, {
      query: `reconnectToken=${encodeURIComponent(fresh.ack.reconnectToken)}&positions=${encodeResumePositions({ c1: j.pos })}`,
    });
    expect(current.ack).toMatchObject({ resumed: true, missed: 'none' });
  }, 60_000);
});
