import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConnectionManagerError, type PresenceMember, type RoomMessage } from '../client/index.js';
import { sdkAppPerTest, sdkClient, userIds, waitFor } from './support/sdk.js';

/** The app's own message type: the SDK types `send` and the `message` event with it. */
type Stroke = { kind: 'stroke'; points: Array<[number, number]>; color: string };

/** The SDK against the real server: join, presence, typed send/receive, request errors, leave. */
describe('SDK: join, presence, typed messages', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest();

  it('joins, sees presence, sends and receives typed messages, correlates errors and leaves', async () => {
    const alice = sdkClient<Stroke>({ url: app().url, getToken: () => app().token({ sub: 'alice', name: 'Alice' }) });
    const bob = sdkClient<Stroke>({ url: app().url, getToken: () => app().token({ sub: 'bob', name: 'Bob' }) });
    await Promise.all([alice.client.whenOpen(), bob.client.whenOpen()]);
    expect(alice.client.state).toBe('connected');
    expect(alice.states).toEqual([{ state: 'connected', previous: 'connecting' }]);
    expect(alice.client.session).toMatchObject({ userId: 'alice', tenantId: 't1', sessionId: expect.any(String) });

    // join resolves on room_joined; presence comes from presence_state
    await expect(alice.client.join('c1')).resolves.toEqual({ roomId: 'canvas:c1', canvasId: 'c1' });
    await waitFor(() => alice.client.presence('c1').length === 1, 'alice in her own presence');
    expect(alice.client.presence('c1')).toEqual<PresenceMember[]>([{ userId: 'alice', name: 'Alice', connections: 1 }]);
    expect(alice.client.rooms).toEqual(['c1']);

    // bob joins: alice's member list follows (presence_join)
    await bob.client.join('c1');
    await waitFor(() => alice.client.presence('c1').length === 2, 'bob in alice presence');
    expect(alice.client.presence('c1')).toContainEqual({ userId: 'bob', name: 'Bob', connections: 1 });
    expect(alice.presence.at(-1)).toMatchObject({ canvasId: 'c1', change: { kind: 'join', member: { userId: 'bob' } } });
    expect(userIds(bob.client.presence('c1'))).toEqual(['alice', 'bob']);

    // typed send / receive: the sender never gets its own message
    const stroke: Stroke = {
      kind: 'stroke',
      points: [
        [1, 2],
        [3, 4],
      ],
      color: '#e11',
    };
    void bob.client.send('c1', stroke);
    await waitFor(() => alice.messages.length === 1, 'alice receives the stroke');
    const got = alice.messages[0];
    expectTypeOf(got).toEqualTypeOf<RoomMessage<Stroke>>();
    expectTypeOf(got.data).toEqualTypeOf<Stroke>();
    expect(got).toEqual({
      type: 'message',
      pos: expect.any(String),
      roomId: 'canvas:c1',
      canvasId: 'c1',
      from: { userId: 'bob', connectionId: bob.client.session!.connectionId },
      data: stroke,
    });
    // @ts-expect-error: send() only takes the app's message type
    expect(() => bob.client.send('c1', { kind: 'oops' })).not.toThrow();

    // an app-level round trip
    await expect(alice.client.ping()).resolves.toEqual(expect.any(Number));

    // an error reply rejects the request with the server's code (correlated by id)
    const carol = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'carol', canvases: ['c1'] }) });
    const refused = await carol.client.join('secret').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectionManagerError);
    expect(refused).toMatchObject({ code: 'FORBIDDEN', canvasId: 'secret' });
    expect(carol.client.rooms).toEqual([]);
    await expect(carol.client.join('bad/id')).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    // a message to a room the client is not in: the unsolicited error arrives on 'error'
    void carol.client.send('c9', { hello: 1 });
    await waitFor(() => carol.errors.length === 1, 'NOT_IN_ROOM error event');
    expect(carol.errors[0]).toMatchObject({ code: 'NOT_IN_ROOM' });

    // leave: room_left resolves, the others see presence_leave
    await bob.client.leave('c1');
    expect(bob.client.rooms).toEqual([]);
    expect(bob.client.presence('c1')).toEqual([]);
    await waitFor(() => alice.client.presence('c1').length === 1, 'bob gone from alice presence');
    expect(alice.presence.at(-1)).toMatchObject({ canvasId: 'c1', change: { kind: 'leave', userId: 'bob' }, members: [{ userId: 'alice' }] });
    await expect(bob.client.leave('c1')).rejects.toMatchObject({ code: 'NOT_IN_ROOM' });

    // close: state closed, further requests reject with CLOSED
    bob.client.close();
    expect(bob.client.state).toBe('closed');
    await expect(bob.client.join('c1')).rejects.toMatchObject({ code: 'CLOSED' });
    expect(alice.errors).toEqual([]);
  });
});
