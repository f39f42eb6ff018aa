import type { IncomingMessage, Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { TestApp } from './support/test-app.js';

/**
 * What an open, idle connection keeps alive (issue 5: heap per idle joined connection). The
 * upgrade request (its URL carries the JWT) and ws's handshake closures must be collectable
 * once the connection handler took the socket over: a listener or closure that kept them would
 * cost ~2 KB per connection for its whole life (it did, through the early-close listener of
 * the upgrade check) and keep the token in memory.
 */

function getGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const N = 40;

describe('idle connection retention', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('the upgrade requests of open, joined connections are garbage-collected', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 1000 } });
    const requests: Array<WeakRef<IncomingMessage>> = [];
    let tracking = true;
    // Seen first, before ws and the adapter get the request.
    (t.app.getHttpServer() as Server).prependListener('upgrade', (req: IncomingMessage) => {
      if (tracking) requests.push(new WeakRef(req));
    });
    const clients = [];
    for (let i = 0; i < N; i++) {
      const c = await t.connect({ sub: `u${i}` });
      await c.join(`c${i % 4}`);
      clients.push(c);
    }
    // One more, untracked: the most recent upgrade may stay referenced by Node's and Nest's
    // "last call" state (one object, not one per connection); it is not what this test is about.
    tracking = false;
    clients.push(await t.connect({ sub: 'last' }));
    expect(t.get(ConnectionService).count).toBe(N + 1);
    expect(requests).toHaveLength(N);

    const gc = getGc();
    let alive = N;
    for (let attempt = 0; attempt < 10 && alive > 0; attempt++) {
      await new Promise((r) => setTimeout(r, 20));
      gc();
      alive = requests.filter((r) => r.deref() !== undefined).length;
    }
    expect(alive, 'upgrade requests still reachable while their connections are open').toBe(0);
    // The connections themselves are still there and working.
    expect(t.get(ConnectionService).count).toBe(N + 1);
    expect(await clients[0].request({ type: 'ping', id: 'p' })).toMatchObject({ type: 'pong', id: 'p' });
  });
});
