import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp, type TokenClaims } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/**
 * Heartbeat: a protocol-level ping every `heartbeatIntervalMs`; a connection that has sent no
 * pong and no frame since the previous ping when the next tick comes is terminated (socket
 * destroyed, no close frame), and its rooms and presence are cleaned up.
 */

const INTERVAL = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client that does not answer protocol pings (`autoPong: false`), acked and counting the pings it gets. */
async function silentClient(t: TestApp, claims: TokenClaims): Promise<TestClient & { ack: any; pings: () => number }> {
  const client = t.rawClient(`${t.url}?token=${encodeURIComponent(t.token(claims))}`, { autoPong: false }) as TestClient & { ack: any; pings: () => number };
  let pings = 0;
  client.ws.on('ping', () => pings++);
  client.pings = () => pings;
  await new Promise<void>((resolve, reject) => {
    client.ws.once('open', () => resolve());
    client.ws.once('error', reject);
  });
  client.ack = await client.next('connection_ack');
  return client;
}

describe('heartbeat', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('connection_ack.heartbeatIntervalMs reflects the option', async () => {
    t = await TestApp.create({ options: { heartbeatIntervalMs: INTERVAL } });
    const client = await t.connect();
    expect(client.ack.heartbeatIntervalMs).toBe(INTERVAL);
  });

  it('a client that never answers pings is terminated: close 1006 (no close frame), presence_leave to its room, connection.closed cause heartbeat_timeout', async () => {
    t = await TestApp.create({ options: { heartbeatIntervalMs: INTERVAL } });
    const watcher = await t.connect({ sub: 'watcher' });
    await watcher.join('c1');
    expect(await watcher.next()).toMatchObject({ type: 'presence_state' });
    const silent = await silentClient(t, { sub: 'silent', name: 'Silent' });
    expect(await silent.join('c1')).toMatchObject({ type: 'room_joined', canvasId: 'c1', pos: expect.any(String) });
    expect(await watcher.next()).toStrictEqual({
      type: 'presence_join',
      roomId: 'canvas:c1',
      canvasId: 'c1',
      member: { userId: 'silent', name: 'Silent', connections: 1 },
    });

    const closed = await Promise.race([silent.closed, sleep(5000).then(() => null)]);
    expect(closed, 'the silent client was never terminated').not.toBeNull();
    expect(closed!.code).toBe(1006);
    expect(silent.pings()).toBeGreaterThanOrEqual(1);

    expect(await watcher.next(undefined, 3000)).toStrictEqual({ type: 'presence_leave', roomId: 'canvas:c1', canvasId: 'c1', userId: 'silent' });
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({
      connectionId: silent.ack.connectionId,
      userId: 'silent',
      tenantId: 't1',
      cause: 'heartbeat_timeout',
    });
    expect(t.eventsNamed('room.left')).toEqual([
      expect.objectContaining({ connectionId: silent.ack.connectionId, reason: 'disconnect', lastConnectionOfUser: true }),
    ]);
    expect(t.get(ConnectionService).count).toBe(1);
    expect(await t.get(RoomService).members('t1', 'c1')).toEqual([{ userId: 'watcher', connections: 1 }]);

    // The watcher, answering pings on its own, is not touched.
    watcher.send({ type: 'ping', id: 'w' });
    expect(await watcher.next()).toStrictEqual({ type: 'pong', id: 'w' });
  });

  it('a normal client (autoPong) stays connected for many intervals', async () => {
    t = await TestApp.create({ options: { heartbeatIntervalMs: INTERVAL } });
    const client = await t.connect();
    let pings = 0;
    client.ws.on('ping', () => pings++);
    await sleep(15 * INTERVAL);
    expect(pings, 'the server must have been pinging').toBeGreaterThanOrEqual(5);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    client.send({ type: 'ping', id: 1 });
    expect(await client.next()).toStrictEqual({ type: 'pong', id: 1 });
    expect(t.eventsNamed('connection.closed')).toEqual([]);
  });

  it('a client that does not answer pings but keeps sending frames stays connected (any frame counts as alive)', async () => {
    t = await TestApp.create({ options: { heartbeatIntervalMs: INTERVAL } });
    const chatty = await silentClient(t, { sub: 'chatty' });
    let n = 0;
    const timer = setInterval(() => chatty.send({ type: 'ping', id: n++ }), INTERVAL / 2);
    try {
      await sleep(15 * INTERVAL);
    } finally {
      clearInterval(timer);
    }
    expect(chatty.pings(), 'the server must have been pinging').toBeGreaterThanOrEqual(5);
    expect(chatty.ws.readyState).toBe(WebSocket.OPEN);
    expect(t.eventsNamed('connection.closed')).toEqual([]);

    // Once it falls silent, it is terminated like any dead peer.
    const closed = await Promise.race([chatty.closed, sleep(5000).then(() => null)]);
    expect(closed?.code).toBe(1006);
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({ connectionId: chatty.ack.connectionId, cause: 'heartbeat_timeout' });
  });

  it('only the silent tab of a user is terminated: its other tab keeps the user present (no presence_leave)', async () => {
    t = await TestApp.create({ options: { heartbeatIntervalMs: INTERVAL } });
    const watcher = await t.connect({ sub: 'watcher' });
    await watcher.join('c1');
    const liveTab = await t.connect({ sub: 'u1' });
    await liveTab.join('c1');
    const deadTab = await silentClient(t, { sub: 'u1' });
    await deadTab.join('c1');
    await watcher.settle();
    const closed = await Promise.race([deadTab.closed, sleep(5000).then(() => null)]);
    expect(closed?.code).toBe(1006);
    await t.until(() => t.eventsNamed('room.left').length === 1, 3000, 'room.left');
    // room.left is out, and Presence answers it synchronously: a presence_leave would be ahead of the pong.
    expect(await watcher.settle()).toEqual([]);
    expect(liveTab.ws.readyState).toBe(WebSocket.OPEN);
    expect(await t.get(RoomService).members('t1', 'c1')).toEqual(
      expect.arrayContaining([
        { userId: 'u1', connections: 1 },
        { userId: 'watcher', connections: 1 },
      ]),
    );
  });
});
