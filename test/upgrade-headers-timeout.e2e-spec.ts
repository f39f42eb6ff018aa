import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';

/**
 * The slow-upgrade bound is module behaviour (`upgradeHeadersTimeoutMs`, default 10000): the
 * adapter sets the app's HTTP server `headersTimeout` when it attaches the WebSocket server, so a
 * host gets it without a line in main.ts. A dribbling upgrade is then dropped by Node's checker.
 */
describe('upgradeHeadersTimeoutMs', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("is applied to the app's HTTP server by the adapter: 10000 by default, the option when set, Node's 60000 with 0", async () => {
    t = await TestApp.create();
    expect((t.app.getHttpServer() as Server).headersTimeout).toBe(10_000);
    await t.close();
    t = await TestApp.create({ options: { upgradeHeadersTimeoutMs: 2500 } });
    expect((t.app.getHttpServer() as Server).headersTimeout).toBe(2500);
    await t.close();
    t = await TestApp.create({ options: { upgradeHeadersTimeoutMs: 0 } });
    expect((t.app.getHttpServer() as Server).headersTimeout).toBe(60_000);
  });

  it("an upgrade whose headers never end is dropped after the module's bound", async () => {
    t = await TestApp.create({ options: { upgradeHeadersTimeoutMs: 1000 } });
    const server = t.app.getHttpServer() as Server;
    // Node checks pending headers every connectionsCheckingInterval (30 s, armed at 'listening'):
    // re-arm it at 100 ms so the test does not wait 30 s. The bound itself is the module's.
    (server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = 100;
    const arm = server.listeners('listening').find((l) => l.name === 'setupConnectionsTracking');
    expect(arm, "Node's connection checker").toBeDefined();
    arm!.call(server);

    const socket = connect(t.port, '127.0.0.1');
    socket.on('error', () => undefined);
    const started = Date.now();
    const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    socket.write(`GET /ws?token=${t.token({ sub: 'slow' })} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n`);
    const dribble = setInterval(() => socket.write('X'), 50); // never the blank line ending the headers
    try {
      const elapsed = (await closedAt) - started;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(3000);
    } finally {
      clearInterval(dribble);
      socket.destroy();
    }
  });
});
