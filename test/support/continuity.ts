import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { expect } from 'vitest';
import type { TestApp, TokenClaims } from './test-app.js';
import type { ServerFrame, TestClient } from './test-client.js';

/**
 * Helpers of the session-continuity scenarios (reauth, resume, drain, timer leaks): timing of
 * frames, JWT expiries, and clients that misbehave on purpose (no pong, no close handshake).
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A JWT `exp` (seconds) at least `ms` from now (whole seconds, so up to 1 s more). */
export function expAfter(ms: number): number {
  return Math.ceil((Date.now() + ms) / 1000);
}

export interface StampedFrame {
  frame: ServerFrame;
  at: number;
}

/** Records every frame a client receives with its arrival time (alongside its inbox). */
export function stamp(client: TestClient): StampedFrame[] {
  const log: StampedFrame[] = [];
  client.ws.on('message', (data, isBinary) => {
    if (!isBinary) log.push({ frame: JSON.parse(data.toString()), at: Date.now() });
  });
  return log;
}

/** Expects the upgrade with `?reconnectToken=` (and an optional JWT) to be refused with 401. */
export async function expectResumeRefused(t: TestApp, reconnectToken: string, jwt?: string): Promise<void> {
  const query = `?reconnectToken=${encodeURIComponent(reconnectToken)}${jwt === undefined ? '' : `&token=${encodeURIComponent(jwt)}`}`;
  const refusal = await t.refusal(query);
  expect(refusal.status).toBe(401);
  expect(refusal.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
}

/** A client that does not answer protocol pings (`autoPong: false`), acked. */
export async function silentClient(t: TestApp, claims: TokenClaims = {}): Promise<TestClient & { ack: any }> {
  const client = t.rawClient(`${t.url}?token=${encodeURIComponent(t.token(claims))}`, { autoPong: false }) as TestClient & { ack: any };
  await new Promise<void>((resolve, reject) => {
    client.ws.once('open', () => resolve());
    client.ws.once('error', reject);
  });
  client.ack = await client.next('connection_ack');
  return client;
}

/**
 * A bare TCP WebSocket peer: it performs the upgrade, reads the first frame (the
 * connection_ack) and then stops reading. It never answers a close frame nor a ping, like a
 * half-open connection or a frozen client: the server's close handshake with it stays pending.
 */
export interface FrozenPeer {
  socket: net.Socket;
  ack: any;
  /** Sends one masked text frame (a client may still send while it does not read). */
  sendText(text: string): void;
  destroy(): void;
}

export function frozenPeer(port: number, pathAndQuery: string): Promise<FrozenPeer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined); // ECONNRESET when the server finally destroys it
    let buf = Buffer.alloc(0);
    let headerEnd = -1;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('frozen peer: no upgrade/ack within 5 s'));
    }, 5000);
    socket.once('connect', () => {
      socket.write(
        `GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (headerEnd < 0) {
        headerEnd = buf.indexOf('\r\n\r\n');
        if (headerEnd < 0) return;
        const status = buf.subarray(0, buf.indexOf('\r\n')).toString();
        if (!status.includes(' 101 ')) {
          clearTimeout(timer);
          socket.destroy();
          reject(new Error(`frozen peer: upgrade refused: ${status}`));
          return;
        }
      }
      const frame = buf.subarray(headerEnd + 4);
      if (frame.length < 2) return;
      let len = frame[1] & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (frame.length < 4) return;
        len = frame.readUInt16BE(2);
        offset = 4;
      }
      if (frame.length < offset + len) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause(); // from here on nothing is read: the close frame is never answered
      const ack = JSON.parse(frame.subarray(offset, offset + len).toString());
      resolve({
        socket,
        ack,
        sendText(text: string) {
          const payload = Buffer.from(text);
          const mask = randomBytes(4);
          const head =
            payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
          const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
          socket.write(Buffer.concat([head, mask, masked]));
        },
        destroy: () => socket.destroy(),
      });
    };
    socket.on('data', onData);
  });
}
