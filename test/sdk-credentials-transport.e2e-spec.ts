import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, trackedWebSocket, waitFor } from './support/sdk.js';

/**
 * Where the SDK puts credentials (issue 12 §6): by default in `Sec-WebSocket-Protocol`
 * (`canvas.v1` + `canvas.auth.<jwt>` / `canvas.resume.<token>`), so the upgrade URL, which proxies
 * log, carries none, on the first login and on a resume alike; `credentialsIn: 'query'` keeps the
 * query string for setups that strip that header. Observed on the server's side of the wire: the
 * request line and the header of every upgrade, as the HTTP server received them.
 */
describe('SDK: credentials on the upgrade', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest();

  /** Every upgrade request the server receives (a passive listener next to the adapter's: it only records). */
  function recordUpgrades(): Array<{ url: string; protocol: string | undefined }> {
    const seen: Array<{ url: string; protocol: string | undefined }> = [];
    (app().app.getHttpServer() as Server).on('upgrade', (req: IncomingMessage) => {
      seen.push({ url: req.url ?? '', protocol: req.headers['sec-websocket-protocol'] });
    });
    return seen;
  }

  it('default: the JWT and then the reconnect token travel in Sec-WebSocket-Protocol; no upgrade URL carries a credential', async () => {
    const upgrades = recordUpgrades();
    const tracked = trackedWebSocket();
    // A token and a reconnect token left in the app's URL must not ride along either.
    const alice = sdkClient({
      url: `${app().url}?room=x&token=stale&reconnectToken=stale`,
      getToken: () => app().token({ sub: 'alice' }),
      WebSocket: tracked.WebSocket,
      backoff: { initialMs: 50, jitter: 0 },
    });
    await alice.client.whenOpen();
    expect(tracked.last().protocol).toBe('canvas.v1');
    const first = alice.client.session!;

    (tracked.last() as unknown as { _socket: { destroy(): void } })._socket.destroy();
    await waitFor(() => alice.client.state === 'resumed', 'the resume');
    expect(alice.client.session!.sessionId).toBe(first.sessionId);

    expect(upgrades).toHaveLength(2);
    expect(upgrades.map((u) => u.url)).toEqual(['/ws?room=x', '/ws?room=x']);
    expect(upgrades[0].protocol).toMatch(/^canvas\.v1, ?canvas\.auth\.eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(upgrades[1].protocol).toMatch(/^canvas\.v1, ?canvas\.resume\.[\w-]{32}$/);
    expect(tracked.offered).toEqual([
      ['canvas.v1', expect.stringMatching(/^canvas\.auth\./)],
      ['canvas.v1', expect.stringMatching(/^canvas\.resume\./)],
    ]);
  });

  it("credentialsIn: 'query' puts them in the URL (?token=, then ?reconnectToken=) and offers no subprotocol", async () => {
    const upgrades = recordUpgrades();
    const tracked = trackedWebSocket();
    const alice = sdkClient({
      url: app().url,
      getToken: () => app().token({ sub: 'alice' }),
      WebSocket: tracked.WebSocket,
      backoff: { initialMs: 50, jitter: 0 },
      credentialsIn: 'query',
    });
    await alice.client.whenOpen();
    expect(tracked.last().protocol).toBe('');
    (tracked.last() as unknown as { _socket: { destroy(): void } })._socket.destroy();
    await waitFor(() => alice.client.state === 'resumed', 'the resume');

    expect(upgrades.map((u) => u.protocol)).toEqual([undefined, undefined]);
    expect(upgrades[0].url).toMatch(/^\/ws\?token=eyJ/);
    expect(upgrades[1].url).toMatch(/^\/ws\?reconnectToken=[\w-]{32}$/);
    expect(tracked.offered).toEqual([undefined, undefined]);
  });

  it('an unknown credentialsIn is refused by connect() before anything is opened', () => {
    expect(() => sdkClient({ url: app().url, getToken: () => 'x', credentialsIn: 'cookie' as never })).toThrow(TypeError);
  });
});
