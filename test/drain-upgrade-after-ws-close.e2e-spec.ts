import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Refusal } from './support/test-client.js';
import { attemptRefusal, TestApp } from './support/test-app.js';

/**
 * The last moments of a shutdown (issue 16 chaos runs, finding 9): Nest closes the WebSocket side
 * (its `upgrade` listener leaves the HTTP server) before the HTTP server stops listening. An
 * upgrade that arrives in between must get 503 DRAINING with Retry-After, which a load balancer
 * retries on another instance, not the HTTP router's 404, which it hands to the client.
 */
describe('an upgrade after the WebSocket side closed', () => {
  it('gets 503 DRAINING with Retry-After, not 404', async () => {
    const t = await TestApp.create();
    const server = t.app.getHttpServer() as Server;
    const close = server.close.bind(server);
    let refusal: Refusal | Error | undefined;
    // The HTTP server's close comes after the WebSocket side's: the attempt is made in between.
    server.close = (callback?: (err?: Error) => void) => {
      attemptRefusal(`ws://127.0.0.1:${t.port}${t.path}?token=${encodeURIComponent(t.token({ sub: 'late' }))}`).then(
        (r) => {
          refusal = r;
          close(callback);
        },
        (err: Error) => {
          refusal = err;
          close(callback);
        },
      );
      return server;
    };
    await t.close();
    expect(refusal).toMatchObject({ status: 503, headers: { 'retry-after': '5' }, body: { error: { code: 'DRAINING' } } });
  });
});
