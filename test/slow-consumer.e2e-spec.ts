import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { RoomDelivery } from '../src/domain/rooms/room-delivery.js';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/**
 * Slow consumer: a member that stops reading while its room is busy. The server keeps its
 * unsent bytes under `maxBufferedBytes` (checked before each send), past it closes it with
 * 1013 (resumable), destroys it if the close handshake does not complete within 2 s (the peer
 * is not reading), and counts it in RoomDelivery.stats.slowConsumerCloses. The room's other
 * members lose nothing and keep their latency (measured from a timestamp in each payload).
 */

const MAX_BUFFERED = 64 * 1024;
const PAD = 'x'.repeat(1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Records, per receiver, the seqs and latencies of the room messages it gets. */
function meter(client: TestClient): { seqs: number[]; latency: Map<number, number> } {
  const m = { seqs: [] as number[], latency: new Map<number, number>() };
  client.ws.on('message', (raw, isBinary) => {
    if (isBinary) return;
    const f = JSON.parse(raw.toString());
    if (f.type !== 'message') return;
    m.seqs.push(f.data.seq);
    m.latency.set(f.data.seq, Date.now() - f.data.ts);
  });
  return m;
}

describe('slow consumer', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('a member that stops reading is closed (1013, destroyed after 2 s) and counted; the others lose nothing and keep their latency', async () => {
    t = await TestApp.create({ options: { maxBufferedBytes: MAX_BUFFERED, messageRateLimit: 1_000_000, reconnectTokenTtlMs: 60_000 } });
    const delivery = t.get(RoomDelivery);
    const connections = t.get(ConnectionService);
    const sender = await t.connect({ sub: 'sender' });
    const receivers = [await t.connect({ sub: 'r1' }), await t.connect({ sub: 'r2' })];
    const victim = await t.connect({ sub: 'victim' });
    for (const c of [sender, ...receivers, victim]) await c.join('c1');
    const meters = receivers.map(meter);
    const victimServerSide = connections.get(victim.ack.connectionId)!;

    let seq = 0;
    let maxVictimBuffered = 0;
    /** Sends `count` ~1 KB messages in bursts of 20 every 5 ms, sampling the victim's server-side buffer. */
    async function send(count: number, until?: () => boolean): Promise<void> {
      for (let sent = 0; sent < count || (until !== undefined && !until());) {
        for (let i = 0; i < 20; i++, sent++) sender.send({ type: 'message', canvasId: 'c1', data: { seq: seq++, ts: Date.now(), pad: PAD } });
        if (!victimServerSide.closed) maxVictimBuffered = Math.max(maxVictimBuffered, victimServerSide.socket.bufferedAmount);
        await sleep(5);
        if (sent > 200_000) throw new Error('the slow consumer was never closed');
      }
    }

    // Before: everyone reads.
    await send(1000);
    const beforeEnd = seq;
    await t.until(() => meters.every((m) => m.seqs.length === beforeEnd), 10_000, 'receivers got the first phase');

    // During: the victim stops reading (its socket is paused: the server's writes pile up).
    (victim.ws as any)._socket.pause();
    const duringStart = seq;
    await send(1000, () => delivery.stats.slowConsumerCloses > 0);
    const closedAtSeq = seq;
    const closedAt = Date.now();
    // The room stays busy until the server has let go of the victim (after the 2 s fallback).
    await send(200, () => t.eventsNamed('connection.closed').some((e) => e.userId === 'victim') || Date.now() - closedAt > 6000);
    const goneAfterMs = Date.now() - closedAt;
    const duringEnd = seq;
    await t.until(() => meters.every((m) => m.seqs.length === duringEnd), 10_000, 'receivers got every message');

    const closed = t.eventsNamed('connection.closed').find((e) => e.userId === 'victim');
    expect(closed).toMatchObject({ connectionId: victim.ack.connectionId, cause: 'slow_consumer', resumable: true });
    expect([1013, 1006]).toContain(closed.code);
    expect(goneAfterMs, 'the non-reading peer is destroyed by the 2 s fallback').toBeLessThan(4000);
    expect(victimServerSide.closed).toBe(true);
    expect(delivery.stats.slowConsumerCloses).toBe(1);
    // Bounded: the check runs before each send, so at most one frame over the bound was queued.
    expect(maxVictimBuffered).toBeLessThanOrEqual(MAX_BUFFERED + 2 * 1024);

    // No loss, no duplicates, in order, for the members that kept reading.
    const all = Array.from({ length: duringEnd }, (_, i) => i);
    for (const m of meters) expect(m.seqs).toEqual(all);

    const lat = (from: number, to: number) => meters.flatMap((m) => [...m.latency].filter(([s]) => s >= from && s < to).map(([, l]) => l));
    const before = lat(200, beforeEnd); // skip the warm-up
    const during = lat(duringStart, duringEnd);
    const fig = (v: number[]) => `p50 ${percentile(v, 50)} ms, p99 ${percentile(v, 99)} ms, max ${Math.max(...v)} ms (n=${v.length})`;
    console.log(
      `[slow-consumer] closed after ${closedAtSeq - duringStart} messages of ~1 KB (max victim buffer ${maxVictimBuffered} B of ${MAX_BUFFERED}), gone ${goneAfterMs} ms after the close; ` +
        `latency before: ${fig(before)}; during: ${fig(during)}; close code ${closed.code}`,
    );
    expect(percentile(during, 99)).toBeLessThan(500);
    expect(percentile(before, 99)).toBeLessThan(500);
  }, 60_000);
});
