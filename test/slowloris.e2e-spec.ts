import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/**
 * Hostile clients that hold sockets without finishing anything:
 * - slowloris: an upgrade request whose headers arrive one byte at a time and never end. Node's
 *   HTTP server bounds it (`headersTimeout`, checked every `connectionsCheckingInterval`); the
 *   module and the demo leave Node's defaults (60 s / 300 s, checked every 30 s), so the test
 *   sets a short bound the way a host app can, and checks the drop and that others connect
 *   meanwhile;
 * - half-open TCP: a client that stops reading and answering (no FIN, no pong) is found by the
 *   heartbeat within about two intervals, and others keep working.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts an upgrade request and dribbles header bytes forever, one every `everyMs`. */
function slowloris(port: number, token: string, everyMs = 50): { socket: Socket; closedAt: Promise<number>; received: () => string } {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d) => (received += d.toString()));
  socket.on('error', () => undefined);
  const head = `GET /ws?token=${token} HTTP/1.1\r\n`;
  const headers = `Host: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n`;
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed) return;
    const stream = headers + 'X-Slow: a\r\n'.repeat(1 + Math.floor(i / 11));
    socket.write(stream[i++]); // never the blank line that ends the headers
  }, everyMs);
  socket.write(head); // queued until connected, always before the first dribbled byte
  const closedAt = new Promise<number>((resolve) =>
    socket.once('close', () => {
      clearInterval(timer);
      resolve(Date.now());
    }),
  );
  return { socket, closedAt, received: () => received };
}

describe('slow and half-open clients', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('the HTTP server has a finite bound for unfinished request headers (the upgradeHeadersTimeoutMs option, reported)', async () => {
    t = await TestApp.create();
    const server = t.app.getHttpServer() as Server;
    console.log(
      `[slowloris] headersTimeout=${server.headersTimeout} ms, requestTimeout=${server.requestTimeout} ms, connectionsCheckingInterval=${(server as any).connectionsCheckingInterval} ms`,
    );
    // 0 would disable the bound altogether: a slowloris could then hold its socket forever.
    expect(server.headersTimeout).toBeGreaterThan(0);
    expect(server.requestTimeout).toBeGreaterThan(0);
    expect(server.headersTimeout).toBeLessThanOrEqual(60_000);
  });

  it('slowloris upgrades (headers one byte at a time) are dropped after the bound, while other clients connect and talk', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 1000 } });
    const server = t.app.getHttpServer() as Server;
    // What a host app can configure. Node arms its checker at 'listening' with the interval of
    // that moment, so re-arm it after changing the interval (test-only; a host sets it before listen).
    server.headersTimeout = 1000;
    server.requestTimeout = 2000;
    (server as any).connectionsCheckingInterval = 100;
    const arm = server.listeners('listening').find((l) => l.name === 'setupConnectionsTracking');
    expect(arm, "Node's connection checker").toBeDefined();
    arm!.call(server);

    const started = Date.now();
    const attackers = Array.from({ length: 30 }, () => slowloris(t.port, t.token({ sub: 'slow' })));
    await sleep(300);
    // Others are served normally while 30 sockets dribble.
    const clients: TestClient[] = [];
    for (let i = 0; i < 5; i++) clients.push(await t.connect({ sub: `ok${i}` }));
    for (const [i, c] of clients.entries()) expect(await c.request({ type: 'ping', id: i })).toStrictEqual({ type: 'pong', id: i });
    await clients[0].join('c1');
    await clients[1].join('c1');
    clients[0].send({ type: 'message', canvasId: 'c1', data: 'during' });
    expect((await clients[1].next('message')).data).toBe('during');

    const closedAt = await Promise.race([Promise.all(attackers.map((a) => a.closedAt)), sleep(8000).then(() => null)]);
    expect(closedAt, 'a slowloris socket was never dropped').not.toBeNull();
    const worst = Math.max(...closedAt!) - started;
    console.log(`[slowloris] 30 dribbling upgrades dropped after ${Math.min(...closedAt!) - started}–${worst} ms (headersTimeout 1000 ms)`);
    expect(worst).toBeLessThan(1000 + 3000);
    for (const a of attackers) expect(a.received()).toMatch(/^(HTTP\/1\.1 408 |$)/);
    expect(t.eventsNamed('connection.established').filter((e) => e.userId === 'slow')).toEqual([]);
    expect(t.get(ConnectionService).count).toBe(5);
    // And the server still takes new clients afterwards.
    expect((await t.connect({ sub: 'after' })).ack.type).toBe('connection_ack');
  });

  it('half-open clients (no reads, no pongs, no FIN) are dropped by the heartbeat within about two intervals; others are untouched', async () => {
    const interval = 200;
    t = await TestApp.create({ options: { heartbeatIntervalMs: interval, rateLimitPoints: 1000 } });
    const watcher = await t.connect({ sub: 'watcher' });
    await watcher.join('c1');
    const ghosts: Array<TestClient & { ack: any }> = [];
    for (let i = 0; i < 10; i++) {
      const c = t.rawClient(`${t.url}?token=${t.token({ sub: `ghost${i}` })}`, { autoPong: false }) as TestClient & { ack: any };
      await new Promise((resolve, reject) => (c.ws.once('open', resolve), c.ws.once('error', reject)));
      c.ack = await c.next('connection_ack');
      await c.join('c1');
      ghosts.push(c);
    }
    // From now on the ghosts' machines are gone: nothing is read, nothing answered.
    const silentSince = Date.now();
    for (const g of ghosts) (g.ws as any)._socket.pause();

    // Meanwhile a normal client connects and talks with the watcher.
    const peer = await t.connect({ sub: 'peer' });
    await peer.join('c1');
    peer.send({ type: 'message', canvasId: 'c1', data: 'hi' });
    await t.until(() => watcher.frames.some((f) => f.type === 'message' && f.data === 'hi'), 3000, 'the peer message');

    const ids = new Set(ghosts.map((g) => g.ack.connectionId));
    await t.until(() => t.eventsNamed('connection.closed').filter((e) => ids.has(e.connectionId)).length === ghosts.length, 5000, 'ghosts dropped');
    const dropped = Date.now() - silentSince;
    console.log(`[half-open] 10 silent connections dropped within ${dropped} ms (heartbeat ${interval} ms)`);
    expect(dropped).toBeLessThan(2 * interval + 1000);
    for (const e of t.eventsNamed('connection.closed').filter((e) => ids.has(e.connectionId))) expect(e.cause).toBe('heartbeat_timeout');
    const left = () => new Set(watcher.frames.filter((f) => f.type === 'presence_leave').map((f) => f.userId));
    await t.until(() => left().size === ghosts.length, 3000, 'presence_leave for every ghost');
    expect([...left()].sort()).toEqual(ghosts.map((_, i) => `ghost${i}`).sort());
    expect(t.get(ConnectionService).count).toBe(2);
    expect(await watcher.request({ type: 'ping', id: 'w' })).toStrictEqual({ type: 'pong', id: 'w' });
  });
});
