import { createHmac } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { ConnectionService } from '../../src/domain/connections/connection.service.js';
import type { TestApp } from './test-app.js';
import type { Refusal } from './test-client.js';

/**
 * Asserts a refused upgrade: exact status, `application/json`, body exactly
 * `{"error":{"code","message"}}` with a short, single-line message (no stack trace, no token),
 * `Retry-After` in whole seconds for 429 and 503 (absent otherwise).
 */
export function expectRefusal(r: Refusal, status: number, code: string, secrets: string[] = []): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(String(r.headers['content-type'])).toMatch(/^application\/json\b/);
  expect(Object.keys(r.body)).toEqual(['error']);
  expect(Object.keys(r.body.error).sort()).toEqual(['code', 'message']);
  const message: unknown = r.body.error.message;
  expect(typeof message).toBe('string');
  expect((message as string).length).toBeGreaterThan(0);
  expect((message as string).length).toBeLessThan(200);
  expect(message).not.toMatch(/\n|\bat \S+ \(|\bat (file|node):|node_modules|\.[cm]?[jt]s:\d+|Error:/);
  for (const s of secrets) expect(message).not.toContain(s);
  if (status === 429 || status === 503) {
    expect(String(r.headers['retry-after'])).toMatch(/^[1-9]\d*$/);
  } else {
    expect(r.headers['retry-after']).toBeUndefined();
  }
}

/** Server side of "no socket ever opened": nothing registered, no connection.established. */
export function expectNoConnectionOpened(t: TestApp): void {
  expect(t.get(ConnectionService).count).toBe(0);
  expect(t.eventsNamed('connection.established')).toEqual([]);
}

export type AttemptOutcome = { kind: 'open' } | { kind: 'response'; status: number; body: string } | { kind: 'error'; message: string };

/** An upgrade attempt whose outcome is reported, whatever it is (open, HTTP response or socket error). */
export function attemptUpgrade(url: string, headers: Record<string, string> = {}): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      resolve({ kind: 'open' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ kind: 'response', status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (err) => resolve({ kind: 'error', message: err.message }));
  });
}

/**
 * Sends a hand-written upgrade request over a plain TCP socket and returns everything the
 * server wrote until it closed the connection (a refusal must end it: no socket stays open).
 */
export function rawUpgrade(port: number, path: string, extraHeaders: string[] = [], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    let raw = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open; received: ${JSON.stringify(raw)}`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => (raw += c.toString('latin1')));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(raw);
    });
    socket.write(
      [
        `GET ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        ...extraHeaders,
        '',
        '',
      ].join('\r\n'),
    );
  });
}

const b64url = (value: object | string): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** An unsigned token (`alg: none`, empty signature), built by hand. */
export function algNoneToken(claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

/** An HMAC-SHA256 token built by hand with any key bytes (e.g. a PEM public key: algorithm confusion). */
export function hs256TokenWithKey(claims: Record<string, unknown>, key: string | Buffer): string {
  const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

/** Valid default claims for hand-built tokens (exp in one hour). */
export function baseClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { sub: 'u1', tenantId: 't1', iat: now, exp: now + 3600, ...extra };
}
