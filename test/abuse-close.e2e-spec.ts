import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

/**
 * A connection that keeps sending garbage (more than 10 bad frames in 10 s) is closed with 1008.
 * Only invalid frames (BAD_REQUEST) count: NOT_IN_ROOM, FORBIDDEN and ROOM_FULL answers do not.
 * Every scenario stays well under the 60 frames/s message rate.
 */

function expectBadRequest(frame: ServerFrame): void {
  expect(frame).toMatchObject({ type: 'error', code: 'BAD_REQUEST' });
}

async function expectStillOpen(client: TestClient, id = 'alive'): Promise<void> {
  client.send({ type: 'ping', id });
  expect(await client.next()).toStrictEqual({ type: 'pong', id });
}

/** Ten invalid frames of different kinds, each answered with BAD_REQUEST (awaited one by one). */
const TEN_BAD: Array<string | object> = [
  '{not json',
  'null',
  { type: 'nope' },
  { id: 'no-type' },
  { type: 'join' },
  { type: 'join', canvasId: 'bad canvas' },
  { type: 'leave', canvasId: 5 },
  { type: 'message', canvasId: 'c1' },
  { type: 'ping', id: 1.5 },
  '[]',
];

async function sendTenBad(client: TestClient): Promise<void> {
  for (const frame of TEN_BAD) {
    client.send(frame);
    expectBadRequest(await client.next());
  }
}

/** The 11th bad frame in the window: answered, then the connection is closed with 1008. */
async function expectEleventhCloses(t: TestApp, client: TestClient & { ack: any }): Promise<void> {
  client.send(Buffer.from('binary garbage'), true);
  expect((await client.closed).code).toBe(1008);
  await t.until(() => t.eventsNamed('connection.closed').some((e) => e.connectionId === client.ack.connectionId), 3000, 'connection.closed');
  const closed = t.eventsNamed('connection.closed').find((e) => e.connectionId === client.ack.connectionId);
  expect(closed).toMatchObject({ code: 1008, cause: 'policy_violation' });
}

describe('bad-frame threshold: close 1008', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('exactly 10 bad frames keep the connection open; the 11th closes it with 1008', async () => {
    t = await TestApp.create();
    const client = await t.connect();
    await sendTenBad(client);
    await expectStillOpen(client);
    await expectEleventhCloses(t, client);
  });

  it('valid frames in between do not reset the count', async () => {
    t = await TestApp.create();
    const client = await t.connect();
    for (const [i, frame] of TEN_BAD.entries()) {
      client.send(frame);
      expectBadRequest(await client.next());
      await expectStillOpen(client, `p${i}`);
    }
    await expectEleventhCloses(t, client);
  });

  it('the count is per connection: another connection of the same user is unaffected', async () => {
    t = await TestApp.create();
    const bad = await t.connect({ sub: 'u1' });
    const good = await t.connect({ sub: 'u1' });
    await sendTenBad(bad);
    await expectEleventhCloses(t, bad);
    await expectStillOpen(good);
    good.send('{not json');
    expectBadRequest(await good.next());
    await expectStillOpen(good);
  });

  it('bad frames older than the window no longer count (badFrameWindowMs: 500)', async () => {
    t = await TestApp.create({ options: { badFrameWindowMs: 500 } });
    const client = await t.connect();
    await sendTenBad(client);
    await new Promise((r) => setTimeout(r, 700));
    await sendTenBad(client);
    await expectStillOpen(client);
    await expectEleventhCloses(t, client);
  });

  it('NOT_IN_ROOM answers do not count: 15 of them, then 10 bad frames, and the connection is still open', async () => {
    t = await TestApp.create();
    const client = await t.connect();
    for (let i = 0; i < 15; i++) {
      client.send(i % 2 ? { type: 'leave', canvasId: 'c9', id: i } : { type: 'message', canvasId: 'c9', data: i, id: i });
      expect(await client.next()).toMatchObject({ type: 'error', code: 'NOT_IN_ROOM', id: i });
    }
    await expectStillOpen(client);
    await sendTenBad(client);
    await expectStillOpen(client);
    await expectEleventhCloses(t, client);
  });

  it('FORBIDDEN answers do not count: 12 refused joins, then 10 bad frames, and the connection is still open', async () => {
    t = await TestApp.create();
    const client = await t.connect({ canvases: ['c1'] });
    for (let i = 0; i < 12; i++) {
      client.send({ type: 'join', canvasId: 'c2', id: i });
      expect(await client.next()).toMatchObject({ type: 'error', code: 'FORBIDDEN', id: i });
    }
    await expectStillOpen(client);
    await sendTenBad(client);
    await expectStillOpen(client);
    await expectEleventhCloses(t, client);
  });

  it('ROOM_FULL answers do not count: 12 refused joins, then 10 bad frames, and the connection is still open', async () => {
    t = await TestApp.create({ options: { roomCapacity: 1 } });
    const holder = await t.connect({ sub: 'holder' });
    await holder.join('c1');
    const client = await t.connect({ sub: 'late' });
    for (let i = 0; i < 12; i++) {
      client.send({ type: 'join', canvasId: 'c1', id: i });
      expect(await client.next()).toMatchObject({ type: 'error', code: 'ROOM_FULL', id: i });
    }
    await expectStillOpen(client);
    await sendTenBad(client);
    await expectStillOpen(client);
    await expectEleventhCloses(t, client);
  });
});
