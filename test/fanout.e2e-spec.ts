import { Injectable } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanvasAccessPolicy } from '../src/domain/ports/canvas-access-policy.port.js';
import { TestApp, type TestAppOptions } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

type Client = TestClient & { ack: any };

/** Joins and consumes room_joined + presence_state. */
async function enter(client: Client, canvasId = 'c1'): Promise<void> {
  client.send({ type: 'join', canvasId, id: `join-${canvasId}` });
  expect(await client.next()).toMatchObject({ type: 'room_joined', id: `join-${canvasId}` });
  expect((await client.next()).type).toBe('presence_state');
}

/** Next frame of type message (presence frames of the setup are skipped). */
const nextMessage = (client: TestClient) => client.next('message', 15_000);

/** A policy that answers after a delay, so a join is still pending when the next frame arrives. */
@Injectable()
class SlowPolicy implements CanvasAccessPolicy {
  async canJoin(): Promise<boolean> {
    await new Promise((r) => setTimeout(r, 150));
    return true;
  }
}

describe('message fan-out', () => {
  let t: TestApp;
  const start = async (opts: TestAppOptions = {}) => (t = await TestApp.create(opts));
  afterEach(async () => {
    await t?.close();
  });

  it("reaches every other connection in the room exactly once (the sender's other tab too), never the sender", async () => {
    await start();
    const a1 = await t.connect({ sub: 'u1' });
    const a2 = await t.connect({ sub: 'u1' });
    const b = await t.connect({ sub: 'u2' });
    for (const c of [a1, a2, b]) await enter(c);

    a1.send({ type: 'message', canvasId: 'c1', data: { x: 1 } });
    const expected = {
      type: 'message',
      roomId: 'canvas:c1',
      canvasId: 'c1',
      from: { userId: 'u1', connectionId: a1.ack.connectionId },
      data: { x: 1 },
      pos: expect.any(String),
    };
    expect(await nextMessage(a2)).toStrictEqual(expected);
    expect(await nextMessage(b)).toStrictEqual(expected);

    // exactly once: the next message each one sees is b's, and a1 never saw its own
    b.send({ type: 'message', canvasId: 'c1', data: 'second' });
    expect(await nextMessage(a2)).toMatchObject({ data: 'second', from: { userId: 'u2', connectionId: b.ack.connectionId } });
    expect(await nextMessage(a1)).toMatchObject({ data: 'second', from: { userId: 'u2', connectionId: b.ack.connectionId } });
    expect(await b.settle()).toEqual([]);
  });

  it('does not deliver to connections in other rooms (same tenant, same user included)', async () => {
    await start();
    const sender = await t.connect({ sub: 'u1' });
    const inC1 = await t.connect({ sub: 'u2' });
    const inC2 = await t.connect({ sub: 'u2' });
    const sameUserInC2 = await t.connect({ sub: 'u1' });
    const noRoom = await t.connect({ sub: 'u3' });
    await enter(sender, 'c1');
    await enter(inC1, 'c1');
    await enter(inC2, 'c2');
    await enter(sameUserInC2, 'c2');

    sender.send({ type: 'message', canvasId: 'c1', data: 'for c1' });
    expect(await nextMessage(inC1)).toMatchObject({ canvasId: 'c1', data: 'for c1' });
    // the message was handled; a frame sent now reaches c2 after anything the c1 message caused
    sameUserInC2.send({ type: 'message', canvasId: 'c2', data: 'for c2' });
    expect(await nextMessage(inC2)).toMatchObject({ roomId: 'canvas:c2', canvasId: 'c2', data: 'for c2' });
    expect(await sameUserInC2.settle()).toEqual([]);
    expect(await noRoom.settle()).toEqual([]);
  });

  it('answers NOT_IN_ROOM (echoing the id) to a message for a room not joined, and after a leave', async () => {
    await start();
    const a = await t.connect({ sub: 'u1' });
    const b = await t.connect({ sub: 'u2' });
    await enter(b, 'c1');

    a.send({ type: 'message', canvasId: 'c1', data: 1, id: 'm1' });
    expect(await a.next()).toEqual({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id: 'm1' });

    await enter(a, 'c1');
    expect(await a.request({ type: 'leave', canvasId: 'c1', id: 'l1' })).toEqual({ type: 'room_left', id: 'l1', roomId: 'canvas:c1', canvasId: 'c1' });
    a.send({ type: 'message', canvasId: 'c1', data: 2, id: 7 });
    expect(await a.next()).toEqual({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id: 7 });

    // neither refused message reached the room
    a.send({ type: 'join', canvasId: 'c1' });
    await t.until(() => t.eventsNamed('room.joined').filter((e) => e.connectionId === a.ack.connectionId).length === 2, 5000, 're-join');
    a.send({ type: 'message', canvasId: 'c1', data: 3 });
    expect(await nextMessage(b)).toMatchObject({ data: 3 });
    expect(t.eventsNamed('connection.message').map((e) => e.data)).toEqual([3]);
  });

  it('keeps the order of a burst of messages from one sender', async () => {
    await start({ options: { messageRateLimit: 10_000 } });
    const a = await t.connect({ sub: 'u1' });
    const b = await t.connect({ sub: 'u2' });
    const a2 = await t.connect({ sub: 'u1' });
    for (const c of [a, b, a2]) await enter(c);

    const n = 200;
    for (let i = 0; i < n; i++) a.send({ type: 'message', canvasId: 'c1', data: { seq: i } });
    for (const receiver of [b, a2]) {
      const got: number[] = [];
      for (let i = 0; i < n; i++) got.push((await nextMessage(receiver)).data.seq);
      expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });

  it('carries any JSON as data, unchanged', async () => {
    await start();
    const a = await t.connect({ sub: 'u1' });
    const b = await t.connect({ sub: 'u2' });
    await enter(a);
    await enter(b);

    const values: unknown[] = [
      null,
      0,
      -12.75,
      1e21,
      true,
      false,
      '',
      'plain',
      'quotes " and \\ and </script> and \u2028 and emoji 🎨 and 租',
      [],
      {},
      [1, 'two', null, [3, [4]], { five: 5 }],
      { nested: { deep: { deeper: [{ a: null, b: false, c: 'x' }] } }, type: 'not-a-frame-type', id: 'inner' },
      'x'.repeat(30_000),
    ];
    for (const data of values) a.send({ type: 'message', canvasId: 'c1', data });
    for (const data of values) {
      const frame = await nextMessage(b);
      expect(frame.data).toStrictEqual(data);
      expect(frame.from).toEqual({ userId: 'u1', connectionId: a.ack.connectionId });
    }
  });

  it('accepts a message sent right after a join on the same connection, without waiting for room_joined', async () => {
    await start({ canvasAccessPolicy: SlowPolicy });
    const b = await t.connect({ sub: 'u2' });
    await enter(b);
    const a = await t.connect({ sub: 'u1' });

    a.send({ type: 'join', canvasId: 'c1', id: 'j' });
    a.send({ type: 'message', canvasId: 'c1', data: 'right away', id: 'm' });
    expect(await a.next()).toEqual({ type: 'room_joined', id: 'j', roomId: 'canvas:c1', canvasId: 'c1', pos: expect.any(String) });
    expect((await a.next()).type).toBe('presence_state');
    expect(await nextMessage(b)).toStrictEqual({
      type: 'message',
      roomId: 'canvas:c1',
      canvasId: 'c1',
      from: { userId: 'u1', connectionId: a.ack.connectionId },
      data: 'right away',
      pos: expect.any(String),
    });
    expect(await a.settle()).toEqual([]);
  });
});
