import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, trackedWebSocket, userIds, waitFor } from './support/sdk.js';

type Msg = { n: number; from: string };

/**
 * The TCP connection drops mid-session (the client's socket is destroyed: no close frame). The
 * SDK resumes with the reconnect token by itself, and the app-level view comes back whole:
 * rooms, presence, the messages another client sent meanwhile (in order, once), and the
 * messages this client sent while it was away.
 */
describe('SDK: a dropped TCP connection is resumed', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest();

  it('resumes rooms, presence and missed messages with state "resumed"', async () => {
    const tracked = trackedWebSocket();
    // A fixed 3 s before the first retry leaves room for the messages sent "meanwhile".
    const alice = sdkClient<Msg>({
      url: app().url,
      getToken: () => app().token({ sub: 'alice', name: 'Alice' }),
      WebSocket: tracked.WebSocket,
      backoff: { initialMs: 3000, jitter: 0 },
    });
    const bob = sdkClient<Msg>({ url: app().url, getToken: () => app().token({ sub: 'bob', name: 'Bob' }) });
    await Promise.all([alice.client.whenOpen(), bob.client.whenOpen()]);
    await alice.client.join('c1');
    await alice.client.join('c2');
    await bob.client.join('c1');
    await bob.client.join('c2');
    await waitFor(() => alice.client.presence('c1').length === 2 && alice.client.presence('c2').length === 2, 'both in both rooms');
    const sessionId = alice.client.session!.sessionId;
    const firstConnection = alice.client.session!.connectionId;

    // Drop the TCP connection under the client.
    (tracked.last() as unknown as { _socket: { destroy(): void } })._socket.destroy();
    await waitFor(
      () =>
        app()
          .eventsNamed('connection.closed')
          .some((e) => e.userId === 'alice'),
      'the server saw alice go',
    );
    expect(
      app()
        .eventsNamed('connection.closed')
        .find((e) => e.userId === 'alice'),
    ).toMatchObject({ resumable: true });
    await waitFor(() => alice.client.state === 'reconnecting', 'alice reconnecting');
    await waitFor(() => !userIds(bob.client.presence('c1')).includes('alice'), 'bob sees alice leave');

    // Meanwhile: bob writes to both rooms, alice (offline) sends too (queued by the SDK).
    const sent: Array<[string, Msg]> = [
      ['c1', { n: 1, from: 'bob' }],
      ['c2', { n: 2, from: 'bob' }],
      ['c1', { n: 3, from: 'bob' }],
      ['c1', { n: 4, from: 'bob' }],
    ];
    for (const [canvas, msg] of sent) void bob.client.send(canvas, msg);
    void alice.client.send('c1', { n: 100, from: 'alice' });
    expect(alice.client.state).toBe('reconnecting');

    await waitFor(() => alice.client.state === 'resumed', 'alice resumed', 20_000);
    expect(alice.states.map((s) => s.state)).toEqual(['connected', 'reconnecting', 'resumed']);
    expect(alice.states[1]).toMatchObject({ closeCode: 1006 });
    expect(alice.states[2]).toMatchObject({ missed: 'replayed' });
    expect(alice.client.session).toMatchObject({ sessionId });
    expect(alice.client.session!.connectionId).not.toBe(firstConnection);
    expect(tracked.sockets).toHaveLength(2);

    // rooms and presence are back, on both sides
    expect(alice.client.rooms.sort()).toEqual(['c1', 'c2']);
    await waitFor(() => userIds(bob.client.presence('c1')).includes('alice'), 'bob sees alice back');
    await waitFor(() => alice.messages.length >= 4, 'the replay');
    expect(userIds(alice.client.presence('c1'))).toEqual(['alice', 'bob']);
    expect(userIds(alice.client.presence('c2'))).toEqual(['alice', 'bob']);

    // the missed messages, each once, in order per room (a replay from the room logs goes room
    // by room: positions are per room, docs/protocol.md)
    await waitFor(() => bob.messages.length === 1, 'bob gets what alice sent while away');
    const perRoom = (list: Array<[string, unknown]>) => ['c1', 'c2'].map((c) => list.filter(([canvas]) => canvas === c));
    expect(perRoom(alice.messages.map((m) => [m.canvasId, m.data]))).toEqual(perRoom(sent));
    expect(bob.messages.map((m) => m.data)).toEqual([{ n: 100, from: 'alice' }]);

    // and the live traffic goes on
    void bob.client.send('c2', { n: 5, from: 'bob' });
    await waitFor(() => alice.messages.length === 5, 'a live message after the resume');
    expect(alice.messages.at(-1)!.data).toEqual({ n: 5, from: 'bob' });
    expect(alice.errors.filter((e) => e.code !== 'CONNECT_FAILED')).toEqual([]);
    expect(app().eventsNamed('session.resumed')).toHaveLength(1);
  });
});
