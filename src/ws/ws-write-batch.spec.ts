import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import type { SocketLike } from '../domain/ports/socket.port.js';
import { ManagedWebSocket } from './managed-socket.js';
import { WsWriteBatch } from './ws-write-batch.js';

const MAX = 1 << 20;

/** A real server socket and its client on an ephemeral loopback port; the client collects text frames. */
async function pair(options: { deflate?: boolean } = {}) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, WebSocket: ManagedWebSocket, perMessageDeflate: options.deflate === true });
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[ManagedWebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: options.deflate === true });
  const received: string[] = [];
  client.on('message', (data: Buffer) => received.push(data.toString()));
  const [socket] = await accepted;
  await once(client, 'open');
  opened.push({ server, client });
  return { socket: socket as unknown as SocketLike, raw: socket, client, received };
}

const opened: Array<{ server: WebSocketServer; client: WebSocket }> = [];
afterEach(async () => {
  for (const { server, client } of opened.splice(0)) {
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Resolves once the client holds `n` frames (the frame that proves the state, no fixed sleep). */
async function frames(client: WebSocket, received: string[], n: number): Promise<void> {
  while (received.length < n) await once(client, 'message');
}

describe('WsWriteBatch.offer', () => {
  const batch = () => new WsWriteBatch({ maxBufferedBytes: MAX } as ResolvedConnectionManagerOptions);

  it('writes an open socket within its budget: the client gets the frame as send would write it', async () => {
    const b = batch();
    const { socket, client, received } = await pair();
    expect(b.offer(socket, b.encode(Buffer.from('{"n":1}')), MAX, 'now')).toBe(true);
    expect(b.offer(socket, b.encode(Buffer.from('{"n":2}')), MAX, 'held')).toBe(true);
    socket.send(Buffer.from('{"n":3}'), { binary: false });
    await frames(client, received, 3);
    expect(received).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
  });

  it('refuses a socket with more than maxBuffered bytes unsent, held bytes included, and writes nothing', async () => {
    const b = batch();
    const { socket, raw, client, received } = await pair();
    b.hold(socket);
    b.write(socket, b.encode(Buffer.from('{"held":true}')));
    const unsent = raw.bufferedAmount;
    expect(unsent).toBeGreaterThan(0);
    expect(b.offer(socket, b.encode(Buffer.from('{"over":true}')), unsent - 1, 'now')).toBe(false);
    expect(raw.bufferedAmount).toBe(unsent);
    expect(b.offer(socket, b.encode(Buffer.from('{"within":true}')), unsent, 'now')).toBe(true);
    await frames(client, received, 2);
    expect(received).toEqual(['{"held":true}', '{"within":true}']);
  });

  it('refuses a closing socket: nothing follows the close frame', async () => {
    const b = batch();
    const { socket, raw, client, received } = await pair();
    raw.close(1000, 'bye');
    expect(b.offer(socket, b.encode(Buffer.from('{"late":true}')), MAX, 'now')).toBe(false);
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1000);
    expect(received).toEqual([]);
  });

  it('refuses a socket that negotiated permessage-deflate (compression is per socket); send still reaches it', async () => {
    const b = batch();
    const { socket, raw, client, received } = await pair({ deflate: true });
    expect(raw.extensions).toContain('permessage-deflate');
    expect(b.offer(socket, b.encode(Buffer.from('{"n":1}')), MAX, 'now')).toBe(false);
    // The answer is kept on the socket (plainFrames): asked again, it still refuses.
    expect(b.offer(socket, b.encode(Buffer.from('{"n":1}')), MAX, 'held')).toBe(false);
    b.write(socket, b.encode(Buffer.from('{"n":2}')));
    await frames(client, received, 1);
    expect(received).toEqual(['{"n":2}']);
  });
});

describe('WsWriteBatch.broadcastWrite', () => {
  const batch = () => new WsWriteBatch({ maxBufferedBytes: MAX } as ResolvedConnectionManagerOptions);
  const endOfTurn = () => new Promise((resolve) => setImmediate(resolve));

  it("holds a room's second broadcast of a turn, and its first of the next turn only after a busy one", async () => {
    const b = batch();
    const room = { batchMark: 0 };
    // Turn 1: two broadcasts, the first written at once, the second held.
    expect(b.broadcastWrite(room)).toBe('now');
    expect(b.broadcastWrite(room)).toBe('held');
    await endOfTurn();
    // Turn 2: the room was busy, so its first broadcast is held; this turn has only one.
    expect(b.broadcastWrite(room)).toBe('held');
    await endOfTurn();
    // Turn 3: the turn before had one broadcast: written at once again.
    expect(b.broadcastWrite(room)).toBe('now');
  });

  it("one room's busy turn does not hold another room's broadcasts", async () => {
    const b = batch();
    const busy = { batchMark: 0 };
    const quiet = { batchMark: 0 };
    b.broadcastWrite(busy);
    b.broadcastWrite(busy);
    expect(b.broadcastWrite(quiet)).toBe('now');
    await endOfTurn();
    expect(b.broadcastWrite(quiet)).toBe('now');
    expect(b.broadcastWrite(busy)).toBe('held');
  });

  it('a held broadcast leaves in one write per socket at the end of the turn, in order', async () => {
    const b = batch();
    const { socket, raw, client, received } = await pair();
    const tcp = (raw as unknown as { _socket: { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown } })._socket;
    let handOffs = 0;
    for (const method of ['_write', '_writev'] as const) {
      const original = tcp[method];
      tcp[method] = function (this: unknown, ...args: unknown[]) {
        handOffs++;
        return original.apply(this, args);
      };
    }
    const room = { batchMark: 0 };
    for (let i = 0; i < 3; i++) b.offer(socket, b.encode(Buffer.from(`{"n":${i}}`)), MAX, b.broadcastWrite(room));
    expect(handOffs).toBe(1);
    await endOfTurn();
    expect(handOffs).toBe(2);
    await frames(client, received, 3);
    expect(received).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);
  });
});
