import { Injectable } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionClosedEvent,
  ConnectionEstablishedEvent,
  ConnectionManagerEvent,
  ConnectionMessageEvent,
  ConnectionRefusedEvent,
  RoomJoinedEvent,
  RoomLeftEvent,
} from '../src/index.js';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/**
 * Domain events, observed with the Connection Manager alone (no Presence, no Router): it must
 * work without them and tell the rest of the service what happened through events.
 * Then: a listener that throws breaks neither the connection, the gateway nor other listeners.
 */

async function expectAlive(client: TestClient, id: string | number = 'alive'): Promise<void> {
  client.send({ type: 'ping', id });
  expect(await client.next()).toStrictEqual({ type: 'pong', id });
}

describe('domain events (Connection Manager alone)', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('connection.established carries who connected, from where, and that it is fresh', async () => {
    t = await TestApp.create({ withReferenceModules: false });
    const client = await t.connect({ sub: 'u1', tenantId: 't1', name: 'Ann' });
    await t.until(() => t.eventsNamed(ConnectionManagerEvent.ConnectionEstablished).length === 1, 3000, 'connection.established');
    const [event] = t.eventsNamed('connection.established');
    expect(event).toBeInstanceOf(ConnectionEstablishedEvent);
    expect(event).toMatchObject({
      connectionId: client.ack.connectionId,
      sessionId: client.ack.sessionId,
      userId: 'u1',
      tenantId: 't1',
      name: 'Ann',
      ip: '127.0.0.1',
      resumed: false,
    });
  });

  it("room.joined carries the member, whether it is the user's first connection, and the members; no presence frames are sent", async () => {
    t = await TestApp.create({ withReferenceModules: false });
    const ann1 = await t.connect({ sub: 'u1', name: 'Ann' });
    const ann2 = await t.connect({ sub: 'u1', name: 'Ann' });
    const bob = await t.connect({ sub: 'u2' });
    const other = await t.connect({ sub: 'u1', tenantId: 't2', name: 'Ann' });

    expect(await ann1.join('c1')).toMatchObject({ type: 'room_joined', roomId: 'canvas:c1', canvasId: 'c1', pos: expect.any(String) });
    await ann2.join('c1');
    await bob.join('c1');
    await other.join('c1');
    await t.until(() => t.eventsNamed('room.joined').length === 4, 3000, 'four room.joined');
    const [first, secondTab, bobJoin, otherTenant] = t.eventsNamed('room.joined');
    for (const e of [first, secondTab, bobJoin, otherTenant]) expect(e).toBeInstanceOf(RoomJoinedEvent);

    expect(first).toMatchObject({
      connectionId: ann1.ack.connectionId,
      sessionId: ann1.ack.sessionId,
      userId: 'u1',
      tenantId: 't1',
      roomId: 'canvas:c1',
      canvasId: 'c1',
      member: { userId: 'u1', name: 'Ann', connections: 1 },
      firstConnectionOfUser: true,
      members: [{ userId: 'u1', name: 'Ann', connections: 1 }],
      resumed: false,
    });
    expect(first.roomKey).toEqual(expect.any(String));
    expect(secondTab).toMatchObject({
      connectionId: ann2.ack.connectionId,
      roomKey: first.roomKey,
      member: { userId: 'u1', name: 'Ann', connections: 2 },
      firstConnectionOfUser: false,
      members: [{ userId: 'u1', name: 'Ann', connections: 2 }],
    });
    expect(bobJoin).toMatchObject({
      connectionId: bob.ack.connectionId,
      roomKey: first.roomKey,
      member: { userId: 'u2', connections: 1 },
      firstConnectionOfUser: true,
    });
    expect(bobJoin.member).not.toHaveProperty('name');
    expect([...bobJoin.members].sort((a: any, b: any) => a.userId.localeCompare(b.userId))).toEqual([
      { userId: 'u1', name: 'Ann', connections: 2 },
      { userId: 'u2', connections: 1 },
    ]);
    // Same canvasId, other tenant: another room.
    expect(otherTenant).toMatchObject({
      tenantId: 't2',
      canvasId: 'c1',
      firstConnectionOfUser: true,
      members: [{ userId: 'u1', name: 'Ann', connections: 1 }],
    });
    expect(otherTenant.roomKey).not.toBe(first.roomKey);

    // Without CanvasPresenceModule nobody gets presence_state / presence_join.
    for (const c of [ann1, ann2, bob, other]) expect(await c.settle()).toEqual([]);
  });

  it('connection.message carries data, roomKey and canvasId; without CanvasMessageRouterModule it reaches nobody', async () => {
    t = await TestApp.create({ withReferenceModules: false });
    const ann = await t.connect({ sub: 'u1' });
    const bob = await t.connect({ sub: 'u2' });
    await ann.join('c1');
    await bob.join('c1');
    const data = { x: 1, nested: [1, 'a', null, { deep: true }], s: 'é' };
    ann.send({ type: 'message', canvasId: 'c1', data });
    await t.until(() => t.eventsNamed('connection.message').length === 1, 3000, 'connection.message');
    const [event] = t.eventsNamed('connection.message');
    expect(event).toBeInstanceOf(ConnectionMessageEvent);
    expect(event).toMatchObject({
      connectionId: ann.ack.connectionId,
      sessionId: ann.ack.sessionId,
      userId: 'u1',
      tenantId: 't1',
      roomKey: t.eventsNamed('room.joined')[0].roomKey,
      roomId: 'canvas:c1',
      canvasId: 'c1',
    });
    expect(event.data).toEqual(data);
    // The event was published while ann's frame was handled: a fan-out would be ahead of the pongs.
    expect(await bob.settle()).toEqual([]);
    expect(await ann.settle()).toEqual([]);
  });

  it("room.left with reason 'leave' on a leave frame", async () => {
    t = await TestApp.create({ withReferenceModules: false });
    const ann = await t.connect({ sub: 'u1' });
    await ann.join('c1');
    ann.send({ type: 'leave', canvasId: 'c1', id: 'l1' });
    expect(await ann.next()).toStrictEqual({ type: 'room_left', id: 'l1', roomId: 'canvas:c1', canvasId: 'c1' });
    await t.until(() => t.eventsNamed('room.left').length === 1, 3000, 'room.left');
    const [event] = t.eventsNamed('room.left');
    expect(event).toBeInstanceOf(RoomLeftEvent);
    expect(event).toMatchObject({
      connectionId: ann.ack.connectionId,
      userId: 'u1',
      tenantId: 't1',
      roomKey: t.eventsNamed('room.joined')[0].roomKey,
      roomId: 'canvas:c1',
      canvasId: 'c1',
      reason: 'leave',
      lastConnectionOfUser: true,
    });
    expect(t.eventsNamed('connection.closed')).toEqual([]);
  });

  it("a client close gives room.left with reason 'disconnect' per room, then connection.closed (code, reason, cause 'client')", async () => {
    t = await TestApp.create({ withReferenceModules: false });
    const tab1 = await t.connect({ sub: 'u1' });
    const tab2 = await t.connect({ sub: 'u1' });
    await tab1.join('c1');
    await tab1.join('c2');
    await tab2.join('c1');

    tab1.ws.close(1000, 'bye');
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    const left = t.eventsNamed('room.left');
    expect(left).toHaveLength(2);
    expect(left.map((e) => [e.connectionId, e.canvasId, e.reason, e.lastConnectionOfUser]).sort()).toEqual([
      [tab1.ack.connectionId, 'c1', 'disconnect', false], // tab2 is still in c1
      [tab1.ack.connectionId, 'c2', 'disconnect', true],
    ]);
    const [closed] = t.eventsNamed('connection.closed');
    expect(closed).toBeInstanceOf(ConnectionClosedEvent);
    expect(closed).toMatchObject({
      connectionId: tab1.ack.connectionId,
      sessionId: tab1.ack.sessionId,
      userId: 'u1',
      tenantId: 't1',
      code: 1000,
      reason: 'bye',
      cause: 'client',
    });

    tab2.ws.close(4321, 'tab closed');
    await t.until(() => t.eventsNamed('connection.closed').length === 2, 3000, 'second connection.closed');
    expect(t.eventsNamed('room.left')[2]).toMatchObject({
      connectionId: tab2.ack.connectionId,
      canvasId: 'c1',
      reason: 'disconnect',
      lastConnectionOfUser: true,
    });
    expect(t.eventsNamed('connection.closed')[1]).toMatchObject({ connectionId: tab2.ack.connectionId, code: 4321, reason: 'tab closed', cause: 'client' });
  });

  it('connection.refused on a 401, and no connection.established', async () => {
    t = await TestApp.create({ withReferenceModules: false });
    const refusal = await t.refusal('?token=not-a-jwt');
    expect(refusal.status).toBe(401);
    await t.until(() => t.eventsNamed('connection.refused').length === 1, 3000, 'connection.refused');
    const [event] = t.eventsNamed('connection.refused');
    expect(event).toBeInstanceOf(ConnectionRefusedEvent);
    expect(event).toMatchObject({ status: 401, code: 'UNAUTHORIZED', ip: '127.0.0.1' });
    expect(t.eventsNamed('connection.established')).toEqual([]);
  });
});

@Injectable()
class ThrowingRoomJoinedListener {
  calls = 0;
  @OnEvent(ConnectionManagerEvent.RoomJoined, { prependListener: true })
  first(): void {
    this.calls++;
    throw new Error('listener failure (expected in this test)');
  }
  @OnEvent(ConnectionManagerEvent.RoomJoined)
  async last(): Promise<void> {
    this.calls++;
    throw new Error('async listener failure (expected in this test)');
  }
}

@Injectable()
class ThrowingEverywhereListener {
  calls = 0;
  private fail(): never {
    this.calls++;
    throw new Error('listener failure (expected in this test)');
  }
  @OnEvent(ConnectionManagerEvent.ConnectionEstablished, { prependListener: true }) a(): void {
    this.fail();
  }
  @OnEvent(ConnectionManagerEvent.ConnectionMessage, { prependListener: true }) b(): void {
    this.fail();
  }
  @OnEvent(ConnectionManagerEvent.RoomLeft, { prependListener: true }) c(): void {
    this.fail();
  }
  @OnEvent(ConnectionManagerEvent.ConnectionClosed, { prependListener: true }) d(): void {
    this.fail();
  }
}

describe('a listener that throws', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('on room.joined (sync, before the others; async, after them) breaks neither the connection, the gateway nor CanvasPresenceModule', async () => {
    t = await TestApp.create({ providers: [ThrowingRoomJoinedListener] });
    const ann = await t.connect({ sub: 'u1', name: 'Ann' });
    ann.send({ type: 'join', canvasId: 'c1', id: 'j1' });
    expect(await ann.next()).toStrictEqual({ type: 'room_joined', id: 'j1', roomId: 'canvas:c1', canvasId: 'c1', pos: expect.any(String) });
    expect(await ann.next()).toStrictEqual({
      type: 'presence_state',
      roomId: 'canvas:c1',
      canvasId: 'c1',
      members: [{ userId: 'u1', name: 'Ann', connections: 1 }],
    });
    expect(t.get(ThrowingRoomJoinedListener).calls).toBe(2);
    await expectAlive(ann);

    // The gateway still takes new connections, and they still work end to end.
    const bob = await t.connect({ sub: 'u2' });
    await bob.join('c1');
    expect(await bob.next()).toMatchObject({ type: 'presence_state', members: expect.arrayContaining([{ userId: 'u1', name: 'Ann', connections: 1 }]) });
    expect(await ann.next()).toStrictEqual({ type: 'presence_join', roomId: 'canvas:c1', canvasId: 'c1', member: { userId: 'u2', connections: 1 } });
    bob.send({ type: 'message', canvasId: 'c1', data: 'hi' });
    expect(await ann.next()).toMatchObject({ type: 'message', canvasId: 'c1', from: { userId: 'u2', connectionId: bob.ack.connectionId }, data: 'hi' });
    await expectAlive(bob);
  });

  it('on every other event, placed first, breaks nothing: ack, routing, presence_leave on leave and on close, new connections', async () => {
    t = await TestApp.create({ providers: [ThrowingEverywhereListener] });
    const ann = await t.connect({ sub: 'u1' });
    const bob = await t.connect({ sub: 'u2' });
    await ann.join('c1');
    await bob.join('c1');
    await ann.settle();
    ann.send({ type: 'message', canvasId: 'c1', data: 1 });
    expect(await bob.next('message')).toMatchObject({ data: 1 });
    await ann.request({ type: 'leave', canvasId: 'c1' });
    expect(await bob.next()).toStrictEqual({ type: 'presence_leave', roomId: 'canvas:c1', canvasId: 'c1', userId: 'u1' });
    await ann.join('c1');
    expect(await bob.next('presence_join')).toMatchObject({ member: { userId: 'u1' } });
    await ann.close(1000);
    expect(await bob.next()).toStrictEqual({ type: 'presence_leave', roomId: 'canvas:c1', canvasId: 'c1', userId: 'u1' });
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.get(ThrowingEverywhereListener).calls).toBeGreaterThanOrEqual(6);

    const carl = await t.connect({ sub: 'u3' });
    await expectAlive(carl);
    await expectAlive(bob);
  });

  it('registered directly on EventEmitter2 (not via @OnEvent) and run first, it still does not stop the other listeners', async () => {
    t = await TestApp.create();
    const emitter = t.get(EventEmitter2);
    emitter.prependListener(ConnectionManagerEvent.RoomJoined, () => {
      throw new Error('raw listener failure (expected in this test)');
    });
    const ann = await t.connect({ sub: 'u1' });
    ann.send({ type: 'join', canvasId: 'c1', id: 'j1' });
    expect(await ann.next()).toStrictEqual({ type: 'room_joined', id: 'j1', roomId: 'canvas:c1', canvasId: 'c1', pos: expect.any(String) });
    // CanvasPresenceModule's listener must still run after the failing one.
    expect(await ann.next()).toStrictEqual({ type: 'presence_state', roomId: 'canvas:c1', canvasId: 'c1', members: [{ userId: 'u1', connections: 1 }] });
    await expectAlive(ann);
  });
});
