import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService, RoomService } from '../src/index.js';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/**
 * The server-side API the host app uses: ConnectionService (who is connected, send to a
 * connection, disconnect a user) and RoomService (members, broadcast, server-side leave).
 */

type Acked = TestClient & { ack: any };

async function expectAlive(client: TestClient, id: string | number = 'alive'): Promise<void> {
  client.send({ type: 'ping', id });
  expect(await client.next()).toStrictEqual({ type: 'pong', id });
}

const ids = (list: Array<{ id: string }>) => list.map((c) => c.id).sort();
const ackIds = (...clients: Acked[]) => clients.map((c) => c.ack.connectionId).sort();

describe('ConnectionService API', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('count, get, byUserId, byTenant and countsByTenant follow connects and closes', async () => {
    t = await TestApp.create();
    const connections = t.get(ConnectionService);
    expect(connections.count).toBe(0);
    const tab1 = await t.connect({ sub: 'u1', tenantId: 't1' });
    const tab2 = await t.connect({ sub: 'u1', tenantId: 't1' });
    const bob = await t.connect({ sub: 'u2', tenantId: 't1' });
    const otherU1 = await t.connect({ sub: 'u1', tenantId: 't2' });

    expect(connections.count).toBe(4);
    expect(connections.get(tab1.ack.connectionId)).toMatchObject({ id: tab1.ack.connectionId, userId: 'u1', tenantId: 't1', sessionId: tab1.ack.sessionId });
    expect(connections.get('no-such-connection')).toBeUndefined();
    expect(ids(connections.byUserId('t1', 'u1'))).toEqual(ackIds(tab1, tab2));
    expect(ids(connections.byUserId('t2', 'u1'))).toEqual(ackIds(otherU1));
    expect(connections.byUserId('t1', 'nobody')).toEqual([]);
    expect(ids(connections.byTenant('t1'))).toEqual(ackIds(tab1, tab2, bob));
    expect(ids(connections.byTenant('t2'))).toEqual(ackIds(otherU1));
    expect(connections.byTenant('t3')).toEqual([]);
    expect(new Map(connections.countsByTenant())).toEqual(
      new Map([
        ['t1', 3],
        ['t2', 1],
      ]),
    );

    await tab1.close(1000);
    await otherU1.close(1000);
    await t.until(() => connections.count === 2, 3000, 'count 2');
    expect(connections.get(tab1.ack.connectionId)).toBeUndefined();
    expect(ids(connections.byUserId('t1', 'u1'))).toEqual(ackIds(tab2));
    expect(connections.byUserId('t2', 'u1')).toEqual([]);
    expect(ids(connections.byTenant('t1'))).toEqual(ackIds(tab2, bob));
    expect(connections.byTenant('t2')).toEqual([]);
    expect(new Map(connections.countsByTenant())).toEqual(new Map([['t1', 2]]));
  });

  it('send(connectionId, frame) delivers the frame to that connection only; false for an unknown or closed one', async () => {
    t = await TestApp.create();
    const connections = t.get(ConnectionService);
    const ann = await t.connect({ sub: 'u1' });
    const annTab2 = await t.connect({ sub: 'u1' });
    const frame = { type: 'notice', text: 'maintenance at noon', n: [1, 2] };
    expect(connections.send(ann.ack.connectionId, frame)).toBe(true);
    expect(await ann.next()).toStrictEqual(frame);
    expect(await annTab2.settle()).toEqual([]);
    expect(connections.send('no-such-connection', frame)).toBe(false);
    await ann.close(1000);
    await t.until(() => connections.count === 1, 3000, 'close');
    expect(connections.send(ann.ack.connectionId, frame)).toBe(false);
  });

  it("disconnectUser(userId, 4010, 'banned', tenantId) closes every tab of that user in that tenant, and nobody else", async () => {
    t = await TestApp.create();
    const connections = t.get(ConnectionService);
    const tab1 = await t.connect({ sub: 'u1', tenantId: 't1' });
    const tab2 = await t.connect({ sub: 'u1', tenantId: 't1' });
    const bob = await t.connect({ sub: 'u2', tenantId: 't1' });
    const sameNameOtherTenant = await t.connect({ sub: 'u1', tenantId: 't2' });
    await tab1.join('c1');
    await bob.join('c1');
    await bob.settle();

    expect(connections.disconnectUser('u1', 4010, 'banned', 't1')).toBe(2);
    expect(await tab1.closed).toEqual({ code: 4010, reason: 'banned' });
    expect(await tab2.closed).toEqual({ code: 4010, reason: 'banned' });
    expect(await bob.next()).toStrictEqual({ type: 'presence_leave', roomId: 'canvas:c1', canvasId: 'c1', userId: 'u1' });
    await expectAlive(bob);
    await expectAlive(sameNameOtherTenant);

    await t.until(() => t.eventsNamed('connection.closed').length === 2, 3000, 'two connection.closed');
    const closed = t.eventsNamed('connection.closed');
    expect(closed.map((e) => e.connectionId).sort()).toEqual(ackIds(tab1, tab2));
    for (const e of closed) expect(e).toMatchObject({ userId: 'u1', tenantId: 't1', code: 4010, reason: 'banned', cause: 'disconnected_by_server' });
    expect(connections.count).toBe(2);
  });

  it('disconnectUser without tenantId closes that user id in every tenant; an unknown user closes nothing', async () => {
    t = await TestApp.create();
    const connections = t.get(ConnectionService);
    const a = await t.connect({ sub: 'u1', tenantId: 't1' });
    const b = await t.connect({ sub: 'u1', tenantId: 't2' });
    const bob = await t.connect({ sub: 'u2', tenantId: 't1' });
    expect(connections.disconnectUser('nobody', 4010, 'banned')).toBe(0);
    expect(connections.disconnectUser('u1', 4010, 'banned')).toBe(2);
    expect(await a.closed).toEqual({ code: 4010, reason: 'banned' });
    expect(await b.closed).toEqual({ code: 4010, reason: 'banned' });
    await expectAlive(bob);
  });
});

describe('RoomService API', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('broadcast(tenantId, canvasId, frame, except) reaches the room members but the excluded one, in that tenant only', async () => {
    t = await TestApp.create();
    const rooms = t.get(RoomService);
    const ann = await t.connect({ sub: 'u1' });
    const annTab2 = await t.connect({ sub: 'u1' });
    const bob = await t.connect({ sub: 'u2' });
    const outsider = await t.connect({ sub: 'u3' }); // same tenant, not in the room
    const otherTenant = await t.connect({ sub: 'u4', tenantId: 't2' }); // same canvasId, other tenant
    for (const c of [ann, annTab2, bob]) await c.join('c1');
    await otherTenant.join('c1');
    for (const c of [ann, annTab2, bob, otherTenant]) await c.settle();

    const frame = { type: 'notice', text: 'canvas saved' };
    expect(rooms.broadcast('t1', 'c1', frame, ann.ack.connectionId)).toBe(2);
    expect(await annTab2.next()).toStrictEqual(frame);
    expect(await bob.next()).toStrictEqual(frame);
    // broadcast() wrote synchronously: anything for these sockets is ahead of their pongs.
    expect(await ann.settle()).toEqual([]);
    expect(await outsider.settle()).toEqual([]);
    expect(await otherTenant.settle()).toEqual([]);

    expect(rooms.broadcast('t1', 'c1', { type: 'notice', n: 2 })).toBe(3);
    for (const c of [ann, annTab2, bob]) expect(await c.next()).toStrictEqual({ type: 'notice', n: 2 });
    expect(rooms.broadcast('t1', 'empty-room', frame)).toBe(0);
  });

  it('members(tenantId, canvasId) returns the presence of the room: one entry per user, tabs counted, name only when given', async () => {
    t = await TestApp.create();
    const rooms = t.get(RoomService);
    const ann = await t.connect({ sub: 'u1', name: 'Ann' });
    const annTab2 = await t.connect({ sub: 'u1', name: 'Ann' });
    const bob = await t.connect({ sub: 'u2' });
    const otherTenant = await t.connect({ sub: 'u9', tenantId: 't2' });
    for (const c of [ann, annTab2, bob, otherTenant]) await c.join('c1');

    const byUser = (list: any[]) => [...list].sort((x, y) => x.userId.localeCompare(y.userId));
    expect(byUser(await rooms.members('t1', 'c1'))).toEqual([
      { userId: 'u1', name: 'Ann', connections: 2 },
      { userId: 'u2', connections: 1 },
    ]);
    expect(await rooms.members('t2', 'c1')).toEqual([{ userId: 'u9', connections: 1 }]);
    expect(await rooms.members('t1', 'nobody-here')).toEqual([]);

    await annTab2.close(1000);
    await t.until(() => t.eventsNamed('room.left').length === 1, 3000, 'room.left');
    expect(byUser(await rooms.members('t1', 'c1'))).toEqual([
      { userId: 'u1', name: 'Ann', connections: 1 },
      { userId: 'u2', connections: 1 },
    ]);
  });

  it("a server-side leave with reason 'kicked' removes the connection, emits room.left 'kicked' and presence_leave", async () => {
    t = await TestApp.create();
    const rooms = t.get(RoomService);
    const connections = t.get(ConnectionService);
    const ann = await t.connect({ sub: 'u1' });
    const bob = await t.connect({ sub: 'u2' });
    await ann.join('c1');
    await bob.join('c1');
    await bob.settle();
    await ann.settle();

    expect(await rooms.leave(connections.get(ann.ack.connectionId)!, 'c1', 'kicked')).toBe(true);
    expect(await bob.next()).toStrictEqual({ type: 'presence_leave', roomId: 'canvas:c1', canvasId: 'c1', userId: 'u1' });
    expect(t.eventsNamed('room.left')).toEqual([expect.objectContaining({ connectionId: ann.ack.connectionId, canvasId: 'c1', reason: 'kicked' })]);
    // The kicked connection no longer gets the room's messages and cannot send to it.
    bob.send({ type: 'message', canvasId: 'c1', data: 1 });
    ann.send({ type: 'message', canvasId: 'c1', data: 2, id: 'm' });
    expect(await ann.next()).toMatchObject({ type: 'error', code: 'NOT_IN_ROOM', id: 'm' });
    // bob's pong proves his message was handled (and fanned out); then ann's shows nothing reached her.
    await bob.settle();
    expect(await ann.settle()).toEqual([]);
    expect(await rooms.leave(connections.get(ann.ack.connectionId)!, 'c1', 'kicked')).toBe(false);
  });
});
