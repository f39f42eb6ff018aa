import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

/**
 * More than `messageRateLimit` (WS_MESSAGE_RATE_LIMIT, default 60) client frames per second on one
 * connection → the excess is dropped unparsed. A dropped frame with an `id` gets a RATE_LIMITED
 * error echoing it; dropped frames without one get a single RATE_LIMITED per one-second window.
 * The rate counts every client frame and is checked first; rate-limited frames do not count
 * toward the 1008 threshold of invalid frames, but more than 10 × the rate of them within 10 s
 * is a 1008 close of its own (test/message-rate-abuse.e2e-spec.ts).
 * Each burst is sent by one synchronous loop, so it lands well inside one second.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for exactly `n` frames (then, with a marker the rate does not count, for anything else) and returns them in order. */
async function collect(client: TestClient, n: number): Promise<ServerFrame[]> {
  const frames: ServerFrame[] = [];
  for (let i = 0; i < n; i++) frames.push(await client.next(undefined, 5000));
  frames.push(...(await client.settleBelowRate()));
  return frames;
}

const isRateLimited = (f: ServerFrame) => f.type === 'error' && f.code === 'RATE_LIMITED';

/** Waits past the current one-second window (and, for a sliding window, past the last burst). */
const nextWindow = () => sleep(1100);

describe('per-connection message rate', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('70 pings in one burst on a fresh connection: exactly 60 pongs and 10 RATE_LIMITED errors', async () => {
    t = await TestApp.create();
    const client = await t.connect();
    for (let i = 1; i <= 70; i++) client.send({ type: 'ping', id: i });
    const frames = await collect(client, 70);
    expect(frames).toHaveLength(70);
    const pongs = frames.filter((f) => f.type === 'pong');
    const limited = frames.filter(isRateLimited);
    expect(pongs).toHaveLength(60);
    expect(limited).toHaveLength(10);
    // The first 60 frames got through; the excess is what was refused, each error echoing its frame's id.
    expect(pongs.map((f) => f.id)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(limited.map((f) => f.id)).toEqual(Array.from({ length: 10 }, (_, i) => i + 61));
    for (const f of limited) expect(f).toMatchObject({ type: 'error', code: 'RATE_LIMITED', message: expect.any(String) });
    // Rate limiting is not a close.
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('the budget comes back after a second', async () => {
    t = await TestApp.create();
    const client = await t.connect();
    for (let i = 1; i <= 70; i++) client.send({ type: 'ping', id: i });
    expect((await collect(client, 70)).filter(isRateLimited)).toHaveLength(10);
    await nextWindow();
    for (let i = 101; i <= 160; i++) client.send({ type: 'ping', id: i });
    const frames = await collect(client, 60);
    expect(frames.map((f) => f.type)).toEqual(Array(60).fill('pong'));
    expect(frames.map((f) => f.id)).toEqual(Array.from({ length: 60 }, (_, i) => i + 101));
  });

  it('messages in the excess are not delivered to the room (nor emitted as connection.message)', async () => {
    t = await TestApp.create();
    const a = await t.connect({ sub: 'a' });
    const b = await t.connect({ sub: 'b' });
    await a.join('c1');
    await b.join('c1');
    await a.settle();
    await b.settle();
    await nextWindow(); // a's join must not eat into the burst's budget
    for (let i = 0; i < 70; i++) a.send({ type: 'message', canvasId: 'c1', data: { i } });
    // Messages carry no id: the 10 dropped ones get one RATE_LIMITED between them.
    const atSender = await collect(a, 1);
    expect(atSender).toHaveLength(1);
    expect(atSender[0]).toEqual({ type: 'error', code: 'RATE_LIMITED', message: expect.any(String) });
    const atOther: ServerFrame[] = [];
    for (let i = 0; i < 60; i++) atOther.push(await b.next(undefined, 5000));
    atOther.push(...(await b.settle()));
    expect(atOther.map((f) => f.type)).toEqual(Array(60).fill('message'));
    expect(atOther.map((f) => f.data.i)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(t.eventsNamed('connection.message')).toHaveLength(60);
  });

  it('a frame over the rate is RATE_LIMITED whatever it holds: an over-rate join is not executed', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 5 } });
    const client = await t.connect();
    for (let i = 1; i <= 5; i++) client.send({ type: 'ping', id: i });
    client.send({ type: 'join', canvasId: 'c1', id: 'j' });
    const frames = await collect(client, 6);
    expect(frames.slice(0, 5).map((f) => f.type)).toEqual(Array(5).fill('pong'));
    expect(frames).toHaveLength(6);
    expect(frames[5]).toEqual({ type: 'error', code: 'RATE_LIMITED', message: expect.any(String), id: 'j' });
    expect(t.eventsNamed('room.joined')).toEqual([]);
    await nextWindow();
    expect(await client.join('c1')).toMatchObject({ type: 'room_joined', canvasId: 'c1', pos: expect.any(String) });
  });

  it('rate-limited frames do not count toward the 1008 threshold: 20 invalid frames at rate 5 → 5 BAD_REQUEST + 1 RATE_LIMITED, still open', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 5 } });
    const client = await t.connect();
    for (let i = 0; i < 20; i++) client.send(`garbage ${i}`);
    const frames = await collect(client, 6);
    expect(frames).toHaveLength(6);
    expect(frames.slice(0, 5).map((f) => [f.type, f.code])).toEqual(Array(5).fill(['error', 'BAD_REQUEST']));
    expect(frames.slice(5).map((f) => [f.type, f.code, f.id])).toEqual([['error', 'RATE_LIMITED', undefined]]);
    await nextWindow();
    client.send({ type: 'ping', id: 'still-open' });
    expect(await client.next()).toStrictEqual({ type: 'pong', id: 'still-open' });

    // Exactly 5 bad frames were counted: 5 more (10 in all) keep it open, the 11th closes with 1008.
    await nextWindow();
    for (let i = 0; i < 5; i++) client.send(`more garbage ${i}`);
    const more = await collect(client, 5);
    expect(more.map((f) => f.code)).toEqual(Array(5).fill('BAD_REQUEST'));
    await nextWindow();
    client.send({ type: 'ping', id: 'ten-bad' });
    expect(await client.next()).toStrictEqual({ type: 'pong', id: 'ten-bad' });
    client.send('the eleventh bad frame');
    expect((await client.closed).code).toBe(1008);
  });

  it('frames without an id over the rate get one RATE_LIMITED per one-second window, not one each', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 5 } });
    const client = await t.connect();
    // 20 + 1 + 20 frames: 31 rate-limited in all, under the 1008 abuse bound (10 × 5 = 50 in 10 s).
    for (let i = 0; i < 20; i++) client.send({ type: 'ping' });
    // An id-bearing frame over the rate in the same window (same burst) still gets its own, with its id.
    client.send({ type: 'ping', id: 'late' });
    const frames = await collect(client, 7);
    expect(frames.map((f) => f.type)).toEqual([...Array(5).fill('pong'), 'error', 'error']);
    expect(frames[5]).toEqual({ type: 'error', code: 'RATE_LIMITED', message: expect.any(String) });
    expect(frames[6]).toEqual({ type: 'error', code: 'RATE_LIMITED', message: expect.any(String), id: 'late' });
    // The next window has a notice of its own.
    await nextWindow();
    for (let i = 0; i < 20; i++) client.send({ type: 'ping' });
    const again = await collect(client, 6);
    expect(again.map((f) => f.type)).toEqual([...Array(5).fill('pong'), 'error']);
    expect(again[5]).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('the id of a rate-limited frame is found at the top level of a large frame, never inside its data', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 1 } });
    const client = await t.connect();
    await client.join('c1');
    await client.drain(100);
    await nextWindow();
    const data = { points: Array.from({ length: 2650 }, (_, i) => [i / 7, i]), meta: { id: 'inside-data' }, text: 'a "quoted" \\ "id":"fake"' };
    client.send({ type: 'ping', id: 'first' });
    const big = JSON.stringify({ type: 'message', canvasId: 'c1', data, id: 'outer-id' });
    expect(big.length).toBeGreaterThan(60_000);
    client.send(big);
    expect(await client.next(undefined, 5000)).toEqual({ type: 'pong', id: 'first' });
    expect(await client.next(undefined, 5000)).toEqual({ type: 'error', code: 'RATE_LIMITED', message: expect.any(String), id: 'outer-id' });
  });

  it('the rate is per connection: a second tab of the same user keeps its own budget', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 5 } });
    const tab1 = await t.connect({ sub: 'u1' });
    const tab2 = await t.connect({ sub: 'u1' });
    for (let i = 0; i < 10; i++) tab1.send({ type: 'ping', id: i });
    expect((await collect(tab1, 10)).filter(isRateLimited)).toHaveLength(5);
    for (let i = 0; i < 5; i++) tab2.send({ type: 'ping', id: i });
    expect((await collect(tab2, 5)).map((f) => f.type)).toEqual(Array(5).fill('pong'));
  });
});
