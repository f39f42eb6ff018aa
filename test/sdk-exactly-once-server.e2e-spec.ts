import { afterEach, describe, expect, it } from 'vitest';
import { decodeResumePositions, POSITIONS_SUBPROTOCOL_PREFIX } from '../src/protocol/resume-positions.js';
import type { UnacknowledgedEvent } from '../client/index.js';
import { tcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { sdkAppPerTest, sdkClient, trackedWebSocket, userIds, waitFor, type Recorded } from './support/sdk.js';

type Msg = { n: number; from: string };

/** The TCP socket under a tracked `ws` client: destroyed, the connection dies without a close frame. */
const tcpOf = (ws: unknown): { destroy(): void } => (ws as { _socket: { destroy(): void } })._socket;

/**
 * Exactly-once delivery with the real SDK against the real server (issue 16): acknowledged sends,
 * resends after a resume that the server does not deliver twice, and a replay from the positions
 * the client processed. alice talks to the server through a proxy that can lose what a dying TCP
 * connection loses: frames the server wrote that never reach her, frames she wrote that never
 * reach the server.
 */
describe('SDK exactly-once against the server', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest();
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  /** alice (behind the lossy proxy) and bob, both in c1. */
  async function aliceAndBob(): Promise<{ alice: Recorded<Msg>; bob: Recorded<Msg>; offered: Array<string[] | undefined> }> {
    proxy = await tcpProxy(app().port);
    const tracked = trackedWebSocket();
    const alice = sdkClient<Msg>({
      url: `ws://127.0.0.1:${proxy.port}${app().path}`,
      getToken: () => app().token({ sub: 'alice' }),
      WebSocket: tracked.WebSocket,
      heartbeat: false,
      backoff: { initialMs: 50, jitter: 0 },
    });
    const bob = sdkClient<Msg>({ url: app().url, getToken: () => app().token({ sub: 'bob' }), heartbeat: false });
    await Promise.all([alice.client.join('c1'), bob.client.join('c1')]);
    await waitFor(() => userIds(alice.client.presence('c1')).join() === 'alice,bob', 'alice sees bob');
    return { alice, bob, offered: tracked.offered };
  }

  it('send() resolves on the ack; a message to a room not joined rejects with NOT_IN_ROOM (its seq echoed)', async () => {
    const { alice, bob } = await aliceAndBob();
    await expect(alice.client.send('c1', { n: 1, from: 'alice' })).resolves.toBeUndefined();
    await waitFor(() => bob.messages.length === 1, 'bob gets it');
    expect(bob.messages[0]).toMatchObject({ canvasId: 'c1', data: { n: 1, from: 'alice' }, pos: expect.any(String) });
    await expect(alice.client.send('c9', { n: 2, from: 'alice' })).rejects.toMatchObject({ code: 'NOT_IN_ROOM', canvasId: 'c9' });
    await expect(alice.client.send('c1', { n: 3, from: 'alice' })).resolves.toBeUndefined();
    await waitFor(() => bob.messages.length === 2, 'bob gets the next one');
    expect(bob.messages.map((m) => m.data.n)).toEqual([1, 3]);
  });

  it('acks lost with the connection: the resume settles them (lastSeq) and they are not delivered again', async () => {
    const { alice, bob } = await aliceAndBob();
    proxy!.swallow('down'); // the server accepts and delivers alice's messages; their acks never reach her
    const accepted = [1, 2, 3].map((n) => alice.client.send('c1', { n, from: 'alice' }));
    await waitFor(() => bob.messages.length === 3, 'bob has 1-3');
    proxy!.cutLatest();
    await waitFor(() => alice.client.state === 'reconnecting', 'alice reconnecting');
    const whileAway = [4, 5].map((n) => alice.client.send('c1', { n, from: 'alice' }));

    await waitFor(() => alice.client.state === 'resumed', 'alice resumed', 20_000);
    await expect(Promise.all([...accepted, ...whileAway])).resolves.toHaveLength(5);
    await expect(alice.client.send('c1', { n: 6, from: 'alice' })).resolves.toBeUndefined();
    await waitFor(() => bob.messages.length >= 6, 'bob has 1-6');
    expect(bob.messages.map((m) => m.data.n)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(alice.messages).toEqual([]); // never echoed
  });

  it('messages lost on the way to the server: resent after the resume, in order, before the new ones', async () => {
    const { alice, bob } = await aliceAndBob();
    await alice.client.send('c1', { n: 1, from: 'alice' });
    proxy!.swallow('up'); // alice writes 2 and 3; the server never gets them
    const lost = [2, 3].map((n) => alice.client.send('c1', { n, from: 'alice' }));
    proxy!.cutLatest();
    await waitFor(() => alice.client.state === 'reconnecting', 'alice reconnecting');
    await waitFor(() => alice.client.state === 'resumed', 'alice resumed', 20_000);
    const after = alice.client.send('c1', { n: 4, from: 'alice' });
    await expect(Promise.all([...lost, after])).resolves.toHaveLength(3);
    await waitFor(() => bob.messages.length >= 4, 'bob has 1-4');
    expect(bob.messages.map((m) => m.data.n)).toEqual([1, 2, 3, 4]);
  });

  it('positions: what the server wrote to a dying connection, never processed, is replayed on resume once each, in order', async () => {
    const { alice, bob, offered } = await aliceAndBob();
    await bob.client.send('c1', { n: 1, from: 'bob' });
    await waitFor(() => alice.messages.length === 1, 'alice processed 1');
    const processed = alice.messages[0].pos;
    expect(processed).toEqual(expect.any(String));

    // 2 and 3 are written to alice's connection (acknowledged to bob), and lost with it.
    proxy!.swallow('down');
    await bob.client.send('c1', { n: 2, from: 'bob' });
    await bob.client.send('c1', { n: 3, from: 'bob' });
    proxy!.cutLatest();
    await waitFor(() => alice.client.state === 'reconnecting', 'alice reconnecting');
    await waitFor(() => !userIds(bob.client.presence('c1')).includes('alice'), 'the server saw alice go');
    await bob.client.send('c1', { n: 4, from: 'bob' }); // while she is away

    await waitFor(() => alice.client.state === 'resumed', 'alice resumed', 20_000);
    const entry = offered.at(-1)!.find((p) => p.startsWith(POSITIONS_SUBPROTOCOL_PREFIX));
    expect(entry).toBeDefined();
    expect(Object.fromEntries(decodeResumePositions(entry!.slice(POSITIONS_SUBPROTOCOL_PREFIX.length))!)).toEqual({ c1: processed });
    expect(alice.states.at(-1)).toMatchObject({ state: 'resumed', missed: 'replayed' });

    await bob.client.send('c1', { n: 5, from: 'bob' }); // live again
    await waitFor(() => alice.messages.length >= 5, 'alice has 1-5');
    expect(alice.messages.map((m) => m.data.n)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('SDK exactly-once: a session that cannot be resumed', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ options: { reconnectTokenTtlMs: 200 } });

  it('hands the unacknowledged messages to the app (not resent by itself), and the new session numbers from 1', async () => {
    const tracked = trackedWebSocket();
    const alice = sdkClient<Msg>({
      url: app().url,
      getToken: () => app().token({ sub: 'alice' }),
      WebSocket: tracked.WebSocket,
      heartbeat: false,
      // The first retry comes after the reconnect token's TTL (200 ms): the resume is refused.
      backoff: { initialMs: 1500, jitter: 0 },
    });
    const bob = sdkClient<Msg>({ url: app().url, getToken: () => app().token({ sub: 'bob' }), heartbeat: false });
    await Promise.all([alice.client.join('c1'), bob.client.join('c1')]);
    await alice.client.send('c1', { n: 1, from: 'alice' });
    await waitFor(() => bob.messages.length === 1, 'bob has 1');

    const reported: UnacknowledgedEvent<Msg>[] = [];
    alice.client.on('unacknowledged', (e) => reported.push(e));
    tcpOf(tracked.last()).destroy();
    await waitFor(() => alice.client.state === 'reconnecting', 'alice reconnecting');
    const whileAway = alice.client.send('c1', { n: 2, from: 'alice' });
    await waitFor(() => app().eventsNamed('session.expired').length === 1, 'session.expired');

    await expect(whileAway).rejects.toMatchObject({ code: 'NOT_DELIVERED', canvasId: 'c1' });
    expect(reported).toEqual([{ messages: [{ canvasId: 'c1', data: { n: 2, from: 'alice' }, seq: 2 }] }]);
    expect(alice.states.at(-1)).toMatchObject({ state: 'connected', missed: 'lost' });
    await waitFor(() => alice.client.rooms.includes('c1'), 'c1 rejoined');
    // Sent again by the app, in the new session: numbered from 1 there, acknowledged, delivered once.
    const written: string[] = [];
    const socket = tracked.last();
    const send = socket.send.bind(socket) as (data: string) => void;
    (socket as unknown as { send(data: string): void }).send = (data) => {
      written.push(data);
      send(data);
    };
    await expect(alice.client.send('c1', { n: 2, from: 'alice' })).resolves.toBeUndefined();
    expect(written.map((w) => JSON.parse(w))).toEqual([{ type: 'message', canvasId: 'c1', data: { n: 2, from: 'alice' }, seq: 1 }]);
    await waitFor(() => bob.messages.length === 2, 'bob has 2');
    expect(bob.messages.map((m) => m.data.n)).toEqual([1, 2]);
  });
});
