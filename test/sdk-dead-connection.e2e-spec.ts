import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, trackedWebSocket, userIds, waitFor } from './support/sdk.js';

/**
 * A connection that silently stops delivering (half-open TCP, a frozen proxy): nothing closes,
 * nothing arrives. The SDK's app-level ping gets no pong, so it drops the socket and resumes the
 * session. (Had the old connection still looked open to the server, the resume would take it
 * over with 4000: see resume-takeover.e2e-spec.ts.)
 */
describe('SDK: dead connection detected by app-level ping', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest();

  it('pings, times out, reconnects and resumes', async () => {
    const tracked = trackedWebSocket();
    const alice = sdkClient<{ n: number }>({
      url: app().url,
      getToken: () => app().token({ sub: 'alice' }),
      WebSocket: tracked.WebSocket,
      heartbeat: { intervalMs: 300, timeoutMs: 500 },
      backoff: { initialMs: 100, jitter: 0 },
    });
    const bob = sdkClient<{ n: number }>({ url: app().url, getToken: () => app().token({ sub: 'bob' }) });
    await Promise.all([alice.client.whenOpen(), bob.client.whenOpen()]);
    await alice.client.join('c1');
    await bob.client.join('c1');
    const firstConnection = alice.client.session!.connectionId;

    // Stop reading the socket: the TCP connection stays up, frames stop arriving.
    tracked.last().pause();

    await waitFor(() => alice.client.state === 'resumed', 'resumed after the heartbeat timeout', 20_000);
    expect(alice.states.map((s) => s.state)).toEqual(['connected', 'reconnecting', 'resumed']);
    expect(alice.states[1]).toMatchObject({ closeCode: 1006, reason: 'heartbeat timeout' });
    // the server's own heartbeat (30 s) had not noticed anything: the SDK dropped the old connection
    await waitFor(
      () =>
        app()
          .eventsNamed('connection.closed')
          .some((e) => e.connectionId === firstConnection),
      'the old connection closed',
    );
    expect(
      app()
        .eventsNamed('connection.closed')
        .find((e) => e.connectionId === firstConnection)!.cause,
    ).not.toBe('heartbeat_timeout');
    expect(alice.client.session!.connectionId).not.toBe(firstConnection);
    expect(app().eventsNamed('session.resumed')).toHaveLength(1);
    expect(alice.client.rooms).toEqual(['c1']);
    await waitFor(() => userIds(alice.client.presence('c1')).join() === 'alice,bob', 'presence');

    void bob.client.send('c1', { n: 2 });
    await waitFor(() => alice.messages.some((m) => m.data.n === 2), 'live messages after the resume');
  });
});
