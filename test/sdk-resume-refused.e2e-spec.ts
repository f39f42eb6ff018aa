import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, trackedWebSocket, userIds, waitFor } from './support/sdk.js';

/**
 * The resume is refused (the reconnect token's TTL ran out while the client was away): the
 * server answers 401, the SDK falls back to a fresh login with getToken() and rejoins the rooms
 * the app was in; the state says `connected` with `missed: 'lost'` (refetch the canvas).
 */
describe('SDK: resume refused → fresh login and rejoin', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ options: { reconnectTokenTtlMs: 200 } });

  it('logs in afresh with getToken() and rejoins every room', async () => {
    const tracked = trackedWebSocket();
    const alice = sdkClient<{ n: number }>({
      url: app().url,
      getToken: () => app().token({ sub: 'alice', name: 'Alice' }),
      WebSocket: tracked.WebSocket,
      backoff: { initialMs: 1500, jitter: 0 },
    });
    const bob = sdkClient<{ n: number }>({ url: app().url, getToken: () => app().token({ sub: 'bob', name: 'Bob' }) });
    await Promise.all([alice.client.whenOpen(), bob.client.whenOpen()]);
    await alice.client.join('c1');
    await alice.client.join('c2');
    await bob.client.join('c1');
    const firstSession = alice.client.session!.sessionId;
    expect(alice.tokenCalls).toBe(1);

    (tracked.last() as unknown as { _socket: { destroy(): void } })._socket.destroy();
    // The TTL runs out before the first retry (1.5 s): the session is gone for good.
    await waitFor(() => app().eventsNamed('session.expired').length === 1, 'session.expired');

    await waitFor(() => alice.client.state === 'connected' && alice.client.rooms.length === 2, 'a fresh login with both rooms', 20_000);
    expect(alice.states.map((s) => s.state)).toEqual(['connected', 'reconnecting', 'connected']);
    expect(alice.states.at(-1)).toMatchObject({ missed: 'lost' });
    // the refused resume was a 401 the SDK could see (Node's ws), then getToken() was called
    expect(alice.errors).toContainEqual(expect.objectContaining({ code: 'UNAUTHORIZED', status: 401 }));
    expect(alice.tokenCalls).toBe(2);
    expect(tracked.sockets).toHaveLength(3); // first, refused resume, fresh login
    // The credentials went in Sec-WebSocket-Protocol (the SDK's default), never in the URL.
    // (with the rooms' resume positions next to the reconnect token: canvas.pos.<encoded>)
    expect(tracked.offered[1]).toEqual(['canvas.v1', expect.stringMatching(/^canvas\.resume\./), expect.stringMatching(/^canvas\.pos\./)]);
    expect(tracked.offered[2]).toEqual(['canvas.v1', expect.stringMatching(/^canvas\.auth\./)]);
    for (const socket of tracked.sockets) expect(socket.url).toBe(app().url);
    expect(alice.client.session!.sessionId).not.toBe(firstSession);

    // rooms rejoined: presence is whole again on both sides, and messages flow
    expect(alice.client.rooms.sort()).toEqual(['c1', 'c2']);
    await waitFor(() => userIds(alice.client.presence('c1')).join() === 'alice,bob', 'alice sees bob');
    await waitFor(() => userIds(bob.client.presence('c1')).join() === 'alice,bob', 'bob sees alice');
    expect(userIds(alice.client.presence('c2'))).toEqual(['alice']);
    void bob.client.send('c1', { n: 1 });
    await waitFor(() => alice.messages.length === 1, 'a message after the fresh login');
    expect(alice.messages[0].data).toEqual({ n: 1 });
  });
});
