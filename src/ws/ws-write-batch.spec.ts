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
    expect(b.offer(socket, b.encode(Buffer.from('{"n":1}')), MAX, 'afterFirst')).toBe(true);
    expect(b.offer(socket, b.encode(Buffer.from('{"n":2}')), MAX, 'always')).toBe(true);
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
    expect(b.offer(socket, b.encode(Buffer.from('{"over":true}')), unsent - 1, 'afterFirst')).toBe(false);
    expect(raw.bufferedAmount).toBe(unsent);
    expect(b.offer(socket, b.encode(Buffer.from('{"within":true}')), unsent, 'afterFirst')).toBe(true);
    await frames(client, received, 2);
    expect(received).toEqual(['{"held":true}', '{"within":true}']);
  });

  it('refuses a closing socket: nothing follows the close frame', async () => {
    const b = batch();
    const { socket, raw, client, received } = await pair();
    raw.close(1000, 'bye');
    expect(b.offer(socket, b.encode(Buffer.from('{"late":true}')), MAX, 'afterFirst')).toBe(false);
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1000);
    expect(received).toEqual([]);
  });

  it('refuses a socket that negotiated permessage-deflate (compression is per socket); send still reaches it', async () => {
    const b = batch();
    const { socket, raw, client, received } = await pair({ deflate: true });
    expect(raw.extensions).toContain('permessage-deflate');
    expect(b.offer(socket, b.encode(Buffer.from('{"n":1}')), MAX, 'afterFirst')).toBe(false);
    b.write(socket, b.encode(Buffer.from('{"n":2}')));
    await frames(client, received, 1);
    expect(received).toEqual(['{"n":2}']);
  });
});
