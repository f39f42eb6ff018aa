import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

/**
 * Bad input (protocol v1): invalid JSON, unknown type, missing or mistyped fields and binary
 * frames are answered with error BAD_REQUEST and the connection stays open. The `id` of a bad
 * frame is echoed only when the id itself is valid (string or integer, at most 64 chars).
 */

/** An error frame, exactly: with `id` only when one is expected, otherwise no `id` key at all. */
function expectError(frame: ServerFrame, code: string, id?: string | number): void {
  const expected: Record<string, unknown> = { type: 'error', code, message: expect.any(String) };
  if (id !== undefined) expected.id = id;
  expect(frame).toStrictEqual(expected);
  if (id === undefined) expect(Object.keys(frame)).not.toContain('id');
  expect(frame.message.length).toBeGreaterThan(0);
}

/** The connection is still open and in sync: a ping is answered, and it is the very next frame. */
async function expectStillOpen(client: TestClient, id = 'alive'): Promise<void> {
  client.send({ type: 'ping', id });
  expect(await client.next()).toStrictEqual({ type: 'pong', id });
}

const long = (n: number, ch = 'a'): string => ch.repeat(n);

describe('bad input: BAD_REQUEST and the connection stays open', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await TestApp.create();
  });
  afterEach(async () => {
    await t.close();
  });

  // [what, raw text] for frames whose id cannot be known (no JSON object): no `id` in the error.
  const unparseable: Array<[string, string]> = [
    ['invalid JSON', '{"type":"ping","id":"x"'],
    ['plain text', 'hello'],
    ['an empty text frame', ''],
    ['a JSON array', '[{"type":"ping"}]'],
    ['a JSON string', '"ping"'],
    ['JSON null', 'null'],
    ['a JSON number', '42'],
  ];
  it.each(unparseable)('%s → BAD_REQUEST without id, then a ping is answered', async (_what, raw) => {
    const client = await t.connect();
    client.send(raw);
    expectError(await client.next(), 'BAD_REQUEST');
    await expectStillOpen(client);
  });

  // [what, frame] for JSON objects with a valid id: the error echoes it.
  const invalidObjects: Array<[string, Record<string, unknown>]> = [
    ['a frame without type', { id: 'b1', canvasId: 'c1' }],
    ['a non-string type', { type: 7, id: 'b1' }],
    ['an unknown type', { type: 'dance', id: 'b1' }],
    ['a type of the wrong case', { type: 'PING', id: 'b1' }],
    ['a server-only type sent by a client', { type: 'pong', id: 'b1' }],
    ['join without canvasId', { type: 'join', id: 'b1' }],
    ['join with a numeric canvasId', { type: 'join', canvasId: 1, id: 'b1' }],
    ['join with an empty canvasId', { type: 'join', canvasId: '', id: 'b1' }],
    ['join with a 129-char canvasId', { type: 'join', canvasId: long(129), id: 'b1' }],
    ['join with a space in canvasId', { type: 'join', canvasId: 'c 1', id: 'b1' }],
    ['join with a slash in canvasId', { type: 'join', canvasId: 'c/1', id: 'b1' }],
    ['join with a non-ASCII canvasId', { type: 'join', canvasId: 'cé', id: 'b1' }],
    ['join with an array canvasId', { type: 'join', canvasId: ['c1'], id: 'b1' }],
    ['leave without canvasId', { type: 'leave', id: 'b1' }],
    ['leave with a bad canvasId', { type: 'leave', canvasId: 'c*1', id: 'b1' }],
    ['message without canvasId', { type: 'message', data: 1, id: 'b1' }],
    ['message with a bad canvasId', { type: 'message', canvasId: null, data: 1, id: 'b1' }],
    ['message without data', { type: 'message', canvasId: 'c1', id: 'b1' }],
    ['reauth without token', { type: 'reauth', id: 'b1' }],
    ['reauth with a numeric token', { type: 'reauth', token: 5, id: 'b1' }],
  ];
  it.each(invalidObjects)('%s → BAD_REQUEST echoing the id, then a ping is answered', async (_what, frame) => {
    const client = await t.connect();
    client.send(frame);
    expectError(await client.next(), 'BAD_REQUEST', 'b1');
    await expectStillOpen(client);
  });

  it('a binary frame → BAD_REQUEST (even when its bytes are a valid ping), then a ping is answered', async () => {
    const client = await t.connect();
    client.send(Buffer.from(JSON.stringify({ type: 'ping', id: 'bin' })), true);
    const reply = await client.next();
    expect(reply).toMatchObject({ type: 'error', code: 'BAD_REQUEST', message: expect.any(String) });
    await expectStillOpen(client);
  });

  it('a message without data to a joined room is BAD_REQUEST (not NOT_IN_ROOM) and reaches nobody', async () => {
    const a = await t.connect({ sub: 'a' });
    const b = await t.connect({ sub: 'b' });
    await a.join('c1');
    await b.join('c1');
    await a.settle();
    await b.settle();
    a.send({ type: 'message', canvasId: 'c1', id: 'm1' });
    expectError(await a.next(), 'BAD_REQUEST', 'm1');
    await expectStillOpen(a);
    // a's frame was handled (its reply is here): a fan-out to b would be ahead of b's pong.
    expect(await b.settle()).toEqual([]);
    expect(t.eventsNamed('connection.message')).toEqual([]);
  });

  it('does not over-reject: a 128-char canvasId of every allowed character and any JSON data (null, false, 0, "") are valid', async () => {
    const a = await t.connect({ sub: 'a' });
    const b = await t.connect({ sub: 'b' });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-';
    const canvasId = (alphabet + alphabet).slice(0, 128);
    expect(canvasId).toHaveLength(128);
    expect(await a.join(canvasId)).toStrictEqual({
      type: 'room_joined',
      id: expect.anything(),
      roomId: `canvas:${canvasId}`,
      canvasId,
      pos: expect.any(String),
    });
    await b.join(canvasId);
    await a.settle();
    await b.settle();
    for (const data of [null, false, 0, '', [], {}]) {
      a.send({ type: 'message', canvasId, data });
      const got = await b.next('message');
      expect(got).toMatchObject({ type: 'message', canvasId, data });
    }
    // a's pong comes after its six messages were handled: no echo came before it.
    expect(await a.settle()).toEqual([]);
  });
});

describe('bad input: id rules on the wire', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await TestApp.create();
  });
  afterEach(async () => {
    await t.close();
  });

  const validIds: Array<[string, string | number]> = [
    ['a short string', 'r1'],
    ['an empty string', ''],
    ['a 64-char string', long(64, 'z')],
    ['zero', 0],
    ['a negative integer', -5],
    ['a large safe integer', Number.MAX_SAFE_INTEGER],
  ];
  it.each(validIds)('a valid id (%s) is echoed in the BAD_REQUEST', async (_what, id) => {
    const client = await t.connect();
    client.send({ type: 'no-such-type', id });
    expectError(await client.next(), 'BAD_REQUEST', id);
    await expectStillOpen(client);
  });

  const invalidIds: Array<[string, unknown]> = [
    ['a 65-char string', long(65, 'z')],
    ['a float', 1.5],
    ['an object', { a: 1 }],
    ['an array', ['r1']],
    ['a boolean', true],
    ['null', null],
  ];
  it.each(invalidIds)('an invalid id (%s) makes even a ping a BAD_REQUEST, and is not echoed', async (_what, id) => {
    const client = await t.connect();
    client.send({ type: 'ping', id });
    expectError(await client.next(), 'BAD_REQUEST');
    await expectStillOpen(client);
  });

  it('an invalid id on an otherwise invalid frame is not echoed either', async () => {
    const client = await t.connect();
    client.send({ type: 'join', canvasId: 'bad canvas', id: long(65) });
    expectError(await client.next(), 'BAD_REQUEST');
    client.send({ type: 'join', canvasId: 'c1', id: 2.25 });
    expectError(await client.next(), 'BAD_REQUEST');
    // …and the join with the bad id did not happen.
    expect(t.eventsNamed('room.joined')).toEqual([]);
    await expectStillOpen(client);
  });
});
