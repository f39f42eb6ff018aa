import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeResumePositions, POSITIONS_SUBPROTOCOL_PREFIX } from '../src/protocol/resume-positions.js';
import type { ConnectOptions, UnacknowledgedEvent } from '../client/index.js';
import { closeSdkClients, sdkClient, waitFor, type Recorded } from './support/sdk.js';
import { ScriptedServer } from './support/scripted-server.js';

type Msg = { n: number };

/**
 * The SDK's side of exactly-once delivery (issue 16), against a scripted server that answers what
 * each rule needs (a given `lastSeq`, a refused resume, an error naming a `seq`): every message
 * gets a `seq` and stays in the outbox until its `ack`; a resume settles what the server had and
 * resends the rest in order before anything new; a lost session hands its messages back to the
 * app; the rooms' last processed positions ride on the resume upgrade.
 */
describe('SDK exactly-once: the rules, against a scripted server', { timeout: 30_000 }, () => {
  let server: ScriptedServer;
  beforeEach(async () => {
    server = await ScriptedServer.start();
  });
  afterEach(async () => {
    closeSdkClients();
    await server.close();
  });

  /** A client that reconnects at once (no backoff to wait out) and has no heartbeat. */
  const client = (extra: Partial<ConnectOptions> = {}): Recorded<Msg> =>
    sdkClient<Msg>({ url: server.url, getToken: () => 'jwt-of-alice', heartbeat: false, backoff: { initialMs: 1, maxMs: 1, jitter: 0 }, ...extra });

  /** Settles to 'resolved', or the rejection's code, or 'pending' when still unsettled after the current turn. */
  const outcome = async (p: Promise<void>): Promise<string> => {
    const result = await Promise.race([
      p.then(
        () => 'resolved',
        (err: { code?: string }) => err.code ?? 'rejected',
      ),
      new Promise<string>((resolve) => setImmediate(() => resolve('pending'))),
    ]);
    return result;
  };

  /** Joins `canvasId` on an acked connection, the server answering with `pos`. */
  const joinOn = async (alice: Recorded<Msg>, conn: Awaited<ReturnType<ScriptedServer['connection']>>, canvasId: string, pos: string): Promise<void> => {
    const joined = alice.client.join(canvasId);
    await conn.frame('join', (f) => f.canvasId === canvasId);
    conn.answerJoin(canvasId, pos);
    await joined;
  };

  it('numbers messages from 1 (also those sent before the first connection) and resolves each on its ack', async () => {
    const alice = client();
    const early = alice.client.send('c1', { n: 1 }); // before any connection: sent after the first ack
    const conn = await server.connection(0);
    conn.ack({ sessionId: 's1' });
    await alice.client.whenOpen();
    const later = alice.client.send('c1', { n: 2 });
    await conn.until(() => conn.messages.length === 2, 'both messages');
    expect(conn.messages).toEqual([
      { type: 'message', canvasId: 'c1', data: { n: 1 }, seq: 1 },
      { type: 'message', canvasId: 'c1', data: { n: 2 }, seq: 2 },
    ]);
    expect(await outcome(early)).toBe('pending'); // written is not acknowledged
    conn.send({ type: 'ack', seq: 1 });
    await expect(early).resolves.toBeUndefined();
    expect(await outcome(later)).toBe('pending');
    conn.send({ type: 'ack', seq: 2 });
    await expect(later).resolves.toBeUndefined();
    expect(alice.errors).toEqual([]);
  });

  it('after a resume: settles seq <= lastSeq, resends the rest in seq order before any new message, and continues the numbering', async () => {
    const alice = client();
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1', reconnectToken: 'rt-s1' });
    await joinOn(alice, conn0, 'c1', 'e1.1');
    const sent = [1, 2, 3, 4, 5].map((n) => alice.client.send('c1', { n }));
    await conn0.until(() => conn0.messages.length === 5, 'five messages');
    conn0.send({ type: 'ack', seq: 1 });
    await sent[0];

    conn0.drop();
    await waitFor(() => alice.client.state === 'reconnecting', 'reconnecting');
    const offline = alice.client.send('c1', { n: 6 }); // while away: after the resends
    let fromHandler: Promise<void> | undefined;
    alice.client.on('state', ({ state }) => {
      if (state === 'resumed') fromHandler = alice.client.send('c1', { n: 7 }); // the first "new" message
    });
    const conn1 = await server.connection(1);
    expect(server.upgrades[1].protocols).toContain('canvas.resume.rt-s1');
    // The server had accepted 1-3 (the acks of 2 and 3 were lost with the connection).
    conn1.ack({ sessionId: 's1', resumed: true, rooms: ['c1'], lastSeq: 3, missed: 'none' });
    await conn1.until(() => conn1.messages.length === 4, 'the resends and the new messages');
    expect(conn1.messages.map((m) => [m.seq, m.data.n])).toEqual([
      [4, 4],
      [5, 5],
      [6, 6],
      [7, 7],
    ]);
    // Nothing at or below lastSeq went out again; those are settled as acknowledged.
    await expect(sent[1]).resolves.toBeUndefined();
    await expect(sent[2]).resolves.toBeUndefined();
    expect(await outcome(sent[3])).toBe('pending');
    for (const seq of [4, 5, 6, 7]) conn1.send({ type: 'ack', seq });
    await expect(Promise.all([sent[3], sent[4], offline, fromHandler!])).resolves.toBeDefined();
    expect(alice.states.at(-1)).toMatchObject({ state: 'resumed', missed: 'none' });
  });

  it('continues above the server lastSeq when it is higher than any seq the outbox still holds', async () => {
    const alice = client();
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1' });
    await alice.client.whenOpen();
    conn0.drop();
    const conn1 = await server.connection(1);
    conn1.ack({ sessionId: 's1', resumed: true, rooms: [], lastSeq: 41, missed: 'none' });
    await alice.client.whenOpen();
    void alice.client.send('c1', { n: 1 });
    await conn1.until(() => conn1.messages.length === 1, 'the message');
    expect(conn1.messages[0].seq).toBe(42);
  });

  it('an error naming a seq rejects that send with the server code (on `error` too) and it is never resent', async () => {
    const alice = client();
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1' });
    await alice.client.whenOpen();
    const refused = alice.client.send('c9', { n: 1 });
    const kept = alice.client.send('c1', { n: 2 });
    await conn0.until(() => conn0.messages.length === 2, 'both messages');
    conn0.send({ type: 'error', code: 'NOT_IN_ROOM', message: 'join the canvas before sending to it', seq: 1 });
    await expect(refused).rejects.toMatchObject({ name: 'ConnectionManagerError', code: 'NOT_IN_ROOM', canvasId: 'c9' });
    expect(alice.errors).toEqual([expect.objectContaining({ code: 'NOT_IN_ROOM', canvasId: 'c9' })]);
    expect(alice.client.rooms).toEqual([]); // a refused message is not a lost room

    conn0.drop();
    const conn1 = await server.connection(1);
    conn1.ack({ sessionId: 's1', resumed: true, rooms: [], lastSeq: 0, missed: 'none' });
    await conn1.until(() => conn1.messages.length === 1, 'the resend');
    expect(conn1.messages.map((m) => m.seq)).toEqual([2]);
    conn1.send({ type: 'ack', seq: 2 });
    await expect(kept).resolves.toBeUndefined();
  });

  it('refuses a message at once with OUTBOX_FULL when maxUnackedMessages await their ack (one error event per episode)', async () => {
    const alice = client({ maxUnackedMessages: 2 });
    const a = alice.client.send('c1', { n: 1 });
    const b = alice.client.send('c1', { n: 2 });
    const c = alice.client.send('c1', { n: 3 });
    const d = alice.client.send('c1', { n: 4 });
    await expect(c).rejects.toMatchObject({ code: 'OUTBOX_FULL', canvasId: 'c1' });
    await expect(d).rejects.toMatchObject({ code: 'OUTBOX_FULL' });
    expect(alice.errors.map((e) => e.code)).toEqual(['OUTBOX_FULL']);

    const conn = await server.connection(0);
    conn.ack({ sessionId: 's1' });
    await conn.until(() => conn.messages.length === 2, 'the two accepted messages');
    conn.send({ type: 'ack', seq: 1 });
    await a;
    const e = alice.client.send('c1', { n: 5 }); // room again: accepted, numbered after the last accepted one
    await conn.until(() => conn.messages.length === 3, 'the next message');
    expect(conn.messages.map((m) => [m.seq, m.data.n])).toEqual([
      [1, 1],
      [2, 2],
      [3, 5],
    ]);
    expect(await outcome(b)).toBe('pending');
    expect(await outcome(e)).toBe('pending');
    // Full again later: reported again (a new episode).
    await expect(alice.client.send('c1', { n: 6 })).rejects.toMatchObject({ code: 'OUTBOX_FULL' });
    expect(alice.errors.map((x) => x.code)).toEqual(['OUTBOX_FULL', 'OUTBOX_FULL']);
  });

  it('the deprecated maxQueuedMessages is read as the outbox bound', async () => {
    const alice = client({ maxQueuedMessages: 1 });
    void alice.client.send('c1', { n: 1 });
    await expect(alice.client.send('c1', { n: 2 })).rejects.toMatchObject({ code: 'OUTBOX_FULL' });
  });

  it('a refused resume: the unacknowledged messages go to the app (event, NOT_DELIVERED), are not resent, and the new session counts from 1', async () => {
    const alice = client();
    const log: string[] = [];
    const reported: UnacknowledgedEvent<Msg>[] = [];
    let resent: Promise<void>[] = [];
    alice.client.on('state', ({ state }) => log.push(`state:${state}`));
    alice.client.on('unacknowledged', (e) => {
      log.push('unacknowledged');
      reported.push(e);
      resent = e.messages.map((m) => alice.client.send(m.canvasId, m.data)); // the app's choice: send them again
    });
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1' });
    await joinOn(alice, conn0, 'c1', 'e1.1');
    const first = alice.client.send('c1', { n: 1 });
    const second = alice.client.send('c1', { n: 2 });
    await conn0.until(() => conn0.messages.length === 2, 'two messages');
    conn0.send({ type: 'ack', seq: 1 });
    await first;

    server.refusals.push(401); // the reconnect token is refused: a fresh login follows
    conn0.drop();
    await waitFor(() => alice.client.state === 'reconnecting', 'reconnecting');
    const offline = alice.client.send('c1', { n: 3 });
    const conn1 = await server.connection(1);
    expect(server.upgrades).toHaveLength(3);
    expect(server.upgrades[1].protocols.some((p) => p.startsWith('canvas.resume.'))).toBe(true);
    expect(server.upgrades[2].protocols.some((p) => p.startsWith('canvas.auth.'))).toBe(true);
    conn1.ack({ sessionId: 's2' });

    await expect(second).rejects.toMatchObject({ code: 'NOT_DELIVERED', canvasId: 'c1' });
    await expect(offline).rejects.toMatchObject({ code: 'NOT_DELIVERED' });
    expect(reported).toEqual([
      {
        messages: [
          { canvasId: 'c1', data: { n: 2 }, seq: 2 },
          { canvasId: 'c1', data: { n: 3 }, seq: 3 },
        ],
      },
    ]);
    expect(log.slice(-2)).toEqual(['unacknowledged', 'state:connected']);
    expect(alice.states.at(-1)).toMatchObject({ state: 'connected', missed: 'lost' });
    // On the new connection: the rejoin first, then only what the app sent again, numbered from 1.
    await conn1.until(() => conn1.messages.length === 2, 'the resent messages');
    expect(conn1.frames.map((f) => (f.type === 'message' ? `message:${f.seq}:${f.data.n}` : `${f.type}:${f.canvasId}`))).toEqual([
      'join:c1',
      'message:1:2',
      'message:2:3',
    ]);
    conn1.answerJoin('c1', 'f2.1');
    conn1.send({ type: 'ack', seq: 1 });
    conn1.send({ type: 'ack', seq: 2 });
    await expect(Promise.all(resent)).resolves.toBeDefined();
  });

  it('close() rejects what awaits its ack with CLOSED, and an ignored send promise never becomes an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const alice = client({ maxUnackedMessages: 1 });
      const kept = alice.client.send('c1', { n: 1 });
      void alice.client.send('c1', { n: 2 }); // OUTBOX_FULL, ignored
      alice.client.close();
      await expect(kept).rejects.toMatchObject({ code: 'CLOSED' });
      const alice2 = client();
      alice2.client.send('c1', { n: 3 }); // eslint-disable-line @typescript-eslint/no-floating-promises -- the point: an app that ignores it
      alice2.client.close();
      // unhandledRejection is emitted once the microtask queue has drained: two macrotask turns are past that.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
      expect(() => alice.client.send('c1', { n: 4 })).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('positions: the last processed one per room goes on the resume upgrade (canvas.pos.*), for the rooms the client is still in', async () => {
    const alice = client();
    const seenInHandler: Array<string | undefined> = [];
    alice.client.on('message', () => seenInHandler.push((alice.client as any).positions.get('c1')));
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1', reconnectToken: 'rt-s1' });
    await joinOn(alice, conn0, 'c1', 'e1.10');
    await joinOn(alice, conn0, 'c2', 'e1.20');
    await joinOn(alice, conn0, 'c3', 'e1.30');
    conn0.message('c1', { n: 1 }, 'e1.11');
    conn0.message('c1', { n: 2 }, 'e1.12');
    conn0.message('c3', { n: 3 }); // no pos (room log unreachable): c3 keeps its position
    await waitFor(() => alice.messages.length === 3, 'three messages');
    // While the app's handler runs, the message is not processed yet: its position is not recorded.
    expect(seenInHandler).toEqual(['e1.10', 'e1.11', 'e1.12']);
    const left = alice.client.leave('c2');
    const leave = await conn0.frame('leave');
    conn0.send({ type: 'room_left', id: leave.id, roomId: 'canvas:c2', canvasId: 'c2' });
    await left;

    conn0.drop();
    const conn1 = await server.connection(1);
    const offered = server.upgrades[1].protocols;
    expect(offered.slice(0, 2)).toEqual(['canvas.v1', 'canvas.resume.rt-s1']);
    expect(positionsIn(offered)).toEqual({ c1: 'e1.12', c3: 'e1.30' });
    expect(server.upgrades[1].url).toBe('/ws'); // nothing in the URL

    // The resume restores c1 only (c3 was not restored): c3's position is forgotten; `missed` is the server's.
    conn1.ack({ sessionId: 's1', resumed: true, rooms: ['c1'], missed: 'replayed', lastSeq: 0, reconnectToken: 'rt-s1b' });
    conn1.message('c1', { n: 4 }, 'e1.13'); // the replay
    await waitFor(() => alice.messages.length === 4, 'the replayed message');
    expect(alice.states.at(-1)).toMatchObject({ state: 'resumed', missed: 'replayed' });
    conn1.drop();
    await server.connection(2);
    expect(positionsIn(server.upgrades[2].protocols)).toEqual({ c1: 'e1.13' });
  });

  it('positions: a room the resume did not restore is forgotten, takes its rejoin position, and is dropped when the rejoin fails; a fresh login sends none', async () => {
    const alice = client();
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1' });
    await joinOn(alice, conn0, 'c1', 'e1.1');
    await joinOn(alice, conn0, 'c2', 'e1.2');
    conn0.drop();
    const conn1 = await server.connection(1);
    expect(positionsIn(server.upgrades[1].protocols)).toEqual({ c1: 'e1.1', c2: 'e1.2' });
    // c2 filled up while alice was away: not restored; the SDK rejoins it, and gets in.
    conn1.ack({ sessionId: 's1', resumed: true, rooms: ['c1'], missed: 'none', lastSeq: 0 });
    await conn1.frame('join', (f) => f.canvasId === 'c2');
    conn1.answerJoin('c2', 'e9.5');
    await waitFor(() => alice.client.rooms.length === 2, 'c2 rejoined');
    conn1.drop();
    const conn2 = await server.connection(2);
    expect(positionsIn(server.upgrades[2].protocols)).toEqual({ c1: 'e1.1', c2: 'e9.5' });
    // Not restored again, and this time the rejoin is refused: the room is lost, and so is its position.
    conn2.ack({ sessionId: 's1', resumed: true, rooms: ['c1'], missed: 'none', lastSeq: 0 });
    const rejoin = await conn2.frame('join', (f) => f.canvasId === 'c2');
    conn2.send({ type: 'error', code: 'ROOM_FULL', message: 'room is full', id: rejoin.id });
    await waitFor(() => alice.errors.some((e) => e.code === 'ROOM_FULL' && e.canvasId === 'c2'), 'ROOM_FULL reported');
    conn2.drop();
    const conn3 = await server.connection(3);
    expect(positionsIn(server.upgrades[3].protocols)).toEqual({ c1: 'e1.1' });

    // Refused resume → fresh login: no positions on it (a new session starts from its joins).
    conn3.ack({ sessionId: 's1', resumed: true, rooms: ['c1'], missed: 'none', lastSeq: 0 });
    await waitFor(() => alice.client.isOpen, 'resumed');
    server.refusals.push(401);
    conn3.drop();
    await server.connection(4);
    expect(server.upgrades[5].protocols.some((p) => p.startsWith('canvas.auth.'))).toBe(true);
    expect(positionsIn(server.upgrades[5].protocols)).toBeUndefined();
  });

  it('positions: a room the app leaves while away is left out of the resume at once', async () => {
    const alice = client();
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1' });
    await joinOn(alice, conn0, 'c1', 'e1.1');
    await joinOn(alice, conn0, 'c2', 'e1.2');
    let left: Promise<void> | undefined;
    alice.client.on('state', ({ state }) => {
      if (state === 'reconnecting' && !left) left = alice.client.leave('c2'); // before the resume upgrade is made
    });
    conn0.drop();
    const conn1 = await server.connection(1);
    expect(positionsIn(server.upgrades[1].protocols)).toEqual({ c1: 'e1.1' });
    // The server still had c2 for the session: the queued leave goes out after the ack.
    conn1.ack({ sessionId: 's1', resumed: true, rooms: ['c1', 'c2'], missed: 'none', lastSeq: 0 });
    const leave = await conn1.frame('leave');
    conn1.send({ type: 'room_left', id: leave.id, roomId: 'canvas:c2', canvasId: 'c2' });
    await left;
    expect(alice.client.rooms).toEqual(['c1']);
  });

  it("positions with credentialsIn 'query': ?positions= next to ?reconnectToken=", async () => {
    const alice = client({ credentialsIn: 'query', url: `${server.url}?positions=stale&keep=1` });
    const conn0 = await server.connection(0);
    expect(new URL(server.upgrades[0].url, 'ws://x').searchParams.has('positions')).toBe(false); // never on a fresh login
    conn0.ack({ sessionId: 's1', reconnectToken: 'rt-s1' });
    await joinOn(alice, conn0, 'c:1', 'e1.7');
    conn0.drop();
    await server.connection(1);
    const url = new URL(server.upgrades[1].url, 'ws://x');
    expect(url.searchParams.get('reconnectToken')).toBe('rt-s1');
    expect(url.searchParams.get('keep')).toBe('1');
    expect(Object.fromEntries(decodeResumePositions(url.searchParams.get('positions')!)!)).toEqual({ 'c:1': 'e1.7' });
    expect(server.upgrades[1].protocols).toEqual([]);
  });

  it('a resume refused with 400 because of its positions is tried again at once without them', async () => {
    const alice = client();
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1', reconnectToken: 'rt-s1' });
    await joinOn(alice, conn0, 'c1', 'e1.1');
    server.refusals.push(400);
    conn0.drop();
    await server.connection(1);
    expect(positionsIn(server.upgrades[1].protocols)).toEqual({ c1: 'e1.1' });
    expect(server.upgrades[2].protocols).toEqual(['canvas.v1', 'canvas.resume.rt-s1']);
    expect(alice.errors).toContainEqual(expect.objectContaining({ status: 400 }));
  });

  it('the testing-only switch unsafeDisableExactlyOnce turns off seq (fire and forget) and positions', async () => {
    const alice = client({ unsafeDisableExactlyOnce: { seq: true, positions: true } });
    const early = alice.client.send('c1', { n: 1 });
    const conn0 = await server.connection(0);
    conn0.ack({ sessionId: 's1' });
    await joinOn(alice, conn0, 'c1', 'e1.1');
    await expect(early).resolves.toBeUndefined(); // settled once written: there is no ack to wait for
    await expect(alice.client.send('c1', { n: 2 })).resolves.toBeUndefined();
    await conn0.until(() => conn0.messages.length === 2, 'both messages');
    expect(conn0.messages).toEqual([
      { type: 'message', canvasId: 'c1', data: { n: 1 } },
      { type: 'message', canvasId: 'c1', data: { n: 2 } },
    ]);
    conn0.message('c1', { n: 3 }, 'e1.2');
    await waitFor(() => alice.messages.length === 1, 'a message');
    conn0.drop();
    const conn1 = await server.connection(1);
    expect(positionsIn(server.upgrades[1].protocols)).toBeUndefined();
    conn1.ack({ sessionId: 's1', resumed: true, rooms: ['c1'], missed: 'none', lastSeq: 0 });
    // A ping after the ack: frames arrive in order, so a resend would be in before it.
    const pong = alice.client.ping();
    const ping = await conn1.frame('ping');
    expect(conn1.messages).toEqual([]);
    conn1.send({ type: 'pong', id: ping.id });
    await pong;
  });
});

/** The positions a resume offered in `canvas.pos.<encoded>`, decoded (undefined when none). */
function positionsIn(protocols: string[]): Record<string, string> | undefined {
  const entry = protocols.find((p) => p.startsWith(POSITIONS_SUBPROTOCOL_PREFIX));
  if (entry === undefined) return undefined;
  const decoded = decodeResumePositions(entry.slice(POSITIONS_SUBPROTOCOL_PREFIX.length));
  if (!decoded) throw new Error(`undecodable positions: ${entry}`);
  return Object.fromEntries(decoded);
}
