import { afterEach, describe, expect, it } from 'vitest';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/**
 * permessage-deflate (issue 15): off by default, so a browser-like client that offers it gets
 * plain frames; with `perMessageDeflate: true` it is negotiated (no context takeover) and room
 * frames arrive whole, compressed on the wire. The measured CPU / bytes trade-off is in
 * docs/performance.md (`npm run bench`, compression scenario).
 */
describe('permessage-deflate', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function deflateClient(app: TestApp, sub: string): Promise<TestClient & { extensions: string }> {
    const client = app.rawClient(`${app.url}?token=${app.token({ sub })}`, { perMessageDeflate: true }) as TestClient & { extensions: string };
    // The server's answer, parameters included (ws's `extensions` getter lists names only).
    client.ws.once('upgrade', (res) => (client.extensions = String(res.headers['sec-websocket-extensions'] ?? '')));
    await client.next('connection_ack');
    return client;
  }

  it('is off by default: a client offering it gets no extension', async () => {
    t = await TestApp.create();
    const client = await deflateClient(t, 'ann');
    expect(client.extensions).toBe('');
  });

  it('when on, it is negotiated without context takeover, and a large stroke arrives whole', async () => {
    t = await TestApp.create({ options: { perMessageDeflate: true } });
    const ann = await deflateClient(t, 'ann');
    const bob = await deflateClient(t, 'bob');
    expect(ann.extensions).toContain('permessage-deflate');
    expect(ann.extensions).toContain('server_no_context_takeover');
    await ann.join('c1');
    await bob.join('c1');
    await ann.settle();
    const points = Array.from({ length: 500 }, (_, i) => [i, i * 2]);
    bob.send({ type: 'message', canvasId: 'c1', data: { points } });
    expect((await ann.next('message')).data).toEqual({ points });
  });
});
