import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/** A frame larger than `maxPayloadBytes` (WS_MAX_PAYLOAD_BYTES, default 65536) closes the connection with 1009. */

/** A valid ping frame of exactly `bytes` bytes (padded with an extra field). */
function pingOfSize(bytes: number, id = 'big'): string {
  const head = `{"type":"ping","id":"${id}","pad":"`;
  const tail = '"}';
  const frame = head + 'x'.repeat(bytes - head.length - tail.length) + tail;
  expect(Buffer.byteLength(frame)).toBe(bytes);
  return frame;
}

/** The client sees a close frame with 1009. */
async function expectClosedTooBig(client: TestClient): Promise<void> {
  expect((await client.closed).code).toBe(1009);
}

describe('frame size limit: close 1009', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('maxPayloadBytes 1024: a 1024-byte frame is accepted, a 1025-byte frame closes with 1009', async () => {
    t = await TestApp.create({ options: { maxPayloadBytes: 1024 } });
    const client = await t.connect();
    client.send(pingOfSize(1024, 'fits'));
    expect(await client.next()).toStrictEqual({ type: 'pong', id: 'fits' });
    client.send(pingOfSize(1025, 'too-big'));
    await expectClosedTooBig(client);
    // The oversized frame was never answered.
    expect(client.frames.filter((f) => f.type === 'pong')).toEqual([]);
  });

  it('maxPayloadBytes 1024: an oversized binary frame also closes with 1009 (not a BAD_REQUEST)', async () => {
    t = await TestApp.create({ options: { maxPayloadBytes: 1024 } });
    const client = await t.connect();
    client.send(Buffer.alloc(2048, 1), true);
    await expectClosedTooBig(client);
    expect(client.frames.filter((f) => f.type === 'error')).toEqual([]);
  });

  it('the oversized frame closes only its own connection; others and their rooms go on', async () => {
    t = await TestApp.create({ options: { maxPayloadBytes: 1024 } });
    const a = await t.connect({ sub: 'a' });
    const b = await t.connect({ sub: 'b' });
    await a.join('c1');
    await b.join('c1');
    await a.settle();
    await b.settle();
    a.send({ type: 'message', canvasId: 'c1', data: 'x'.repeat(2000) });
    await expectClosedTooBig(a);
    expect(await b.next()).toStrictEqual({ type: 'presence_leave', roomId: 'canvas:c1', canvasId: 'c1', userId: 'a' });
    expect(t.eventsNamed('connection.message')).toEqual([]);
    b.send({ type: 'ping', id: 1 });
    expect(await b.next()).toStrictEqual({ type: 'pong', id: 1 });
  });

  it('default limit 65536: a 65536-byte frame is accepted, a 65537-byte frame closes with 1009', async () => {
    t = await TestApp.create();
    const client = await t.connect();
    client.send(pingOfSize(65_536, 'fits'));
    expect(await client.next()).toStrictEqual({ type: 'pong', id: 'fits' });
    client.send(pingOfSize(65_537, 'too-big'));
    await expectClosedTooBig(client);
  });

  it('connection.closed reports the close code the server used (1009) and cause message_too_big', async () => {
    t = await TestApp.create({ options: { maxPayloadBytes: 1024 } });
    const client = await t.connect();
    client.send(pingOfSize(1025));
    await expectClosedTooBig(client);
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({
      connectionId: client.ack.connectionId,
      userId: 'u1',
      tenantId: 't1',
      code: 1009,
      cause: 'message_too_big',
    });
  });
});
