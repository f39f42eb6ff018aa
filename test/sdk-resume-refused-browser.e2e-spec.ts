import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrowserLikeWebSocket, closeSdkClients, sdkClient, userIds, waitFor } from './support/sdk.js';
import { TestApp } from './support/test-app.js';

/**
 * Where the status of a refused upgrade is invisible (browsers: only an error and a 1006
 * close), the SDK cannot tell a refused reconnect token from a server that is down. After
 * `maxBlindResumeAttempts` failed resumes it assumes the token was refused and logs in afresh.
 */
describe('SDK: resume refused, status invisible (browser-like WebSocket)', { timeout: 60_000 }, () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await TestApp.create({ options: { reconnectTokenTtlMs: 200 } });
    BrowserLikeWebSocket.opened = 0;
  });

  afterEach(async () => {
    closeSdkClients();
    await app.close();
  });

  it('falls back to a fresh login after maxBlindResumeAttempts blind failures', async () => {
    const alice = sdkClient({
      url: app.url,
      getToken: () => app.token({ sub: 'alice' }),
      WebSocket: BrowserLikeWebSocket,
      backoff: { initialMs: 800, factor: 1, jitter: 0 },
      maxBlindResumeAttempts: 2,
    });
    await alice.client.whenOpen();
    await alice.client.join('c1');
    await waitFor(() => alice.client.presence('c1').length === 1, 'presence');

    // The server ends the socket (resumable), and the session expires before the first retry.
    const { ConnectionService } = await import('../src/domain/connections/connection.service.js');
    const connections = app.get(ConnectionService);
    const [conn] = connections.byUserId('t1', 'alice');
    connections.terminate(conn, { cause: 'client', resumable: true });
    await waitFor(() => app.eventsNamed('session.expired').length === 1, 'session.expired');

    await waitFor(() => alice.client.state === 'connected', 'fresh login', 20_000);
    expect(alice.states.map((s) => s.state)).toEqual(['connected', 'reconnecting', 'connected']);
    expect(alice.states.at(-1)).toMatchObject({ missed: 'lost' });
    // two blind failures (no status seen), then the fresh login
    const failures = alice.errors.filter((e) => e.code === 'CONNECT_FAILED');
    expect(failures).toHaveLength(2);
    expect(failures.every((e) => e.status === undefined)).toBe(true);
    expect(BrowserLikeWebSocket.opened).toBe(4);
    expect(alice.tokenCalls).toBe(2);
    expect(app.eventsNamed('connection.refused').map((e) => e.status)).toEqual([401, 401]);
    await waitFor(() => alice.client.rooms.includes('c1'), 'rejoined c1');
    await waitFor(() => userIds(alice.client.presence('c1')).join() === 'alice', 'presence after rejoin');
  });
});
