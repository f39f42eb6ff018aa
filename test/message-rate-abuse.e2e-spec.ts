import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

/**
 * Issue 12 §3: sustained excess over the message rate is abuse. A connection that has more than
 * 10 × `messageRateLimit` frames rate-limited within 10 s (`badFrameWindowMs`, the window of
 * the other 1008 count) is closed with 1008 (cause policy_violation, not resumable); up to that
 * it stays open. Rate 5 here: the 51st rate-limited frame within the window closes.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nextWindow = () => sleep(1100);

async function collect(client: TestClient, n: number): Promise<ServerFrame[]> {
  const frames: ServerFrame[] = [];
  for (let i = 0; i < n; i++) frames.push(await client.next(undefined, 5000));
  return frames;
}

describe('message rate abuse', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('50 rate-limited frames within 10 s keep the connection; the 51st closes it with 1008', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 5 } });
    const client = await t.connect();
    // One burst: 5 served, 50 rate-limited (each answered: they carry ids).
    for (let i = 0; i < 55; i++) client.send({ type: 'ping', id: i });
    const first = await collect(client, 55);
    expect(first.filter((f) => f.type === 'pong')).toHaveLength(5);
    expect(first.filter((f) => f.code === 'RATE_LIMITED').map((f) => f.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 5));

    // Still open: the next window serves again.
    await nextWindow();
    for (let i = 0; i < 5; i++) client.send({ type: 'ping', id: `w2-${i}` });
    expect((await collect(client, 5)).map((f) => f.type)).toEqual(Array(5).fill('pong'));
    expect(client.ws.readyState).toBe(client.ws.OPEN);

    // One more rate-limited frame within the 10 s: the 51st.
    client.send({ type: 'ping', id: 'one-too-many' });
    expect(await client.closed).toEqual({ code: 1008, reason: 'too many messages' });
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({ code: 1008, cause: 'policy_violation', resumable: false });
  });

  it('the count is per window: 50 rate-limited frames, then 50 more once the window is over, stay open', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 5, badFrameWindowMs: 2000 } });
    const client = await t.connect();
    for (let i = 0; i < 55; i++) client.send({ type: 'ping', id: i });
    expect((await collect(client, 55)).filter((f) => f.code === 'RATE_LIMITED')).toHaveLength(50);
    // The window of the abuse count ends (2 s here).
    await sleep(2100);
    for (let i = 0; i < 55; i++) client.send({ type: 'ping', id: `b${i}` });
    expect((await collect(client, 55)).filter((f) => f.code === 'RATE_LIMITED')).toHaveLength(50);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    expect(t.eventsNamed('connection.closed')).toEqual([]);
  });
});
