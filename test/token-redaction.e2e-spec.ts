import { Logger, type LoggerService } from '@nestjs/common';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { DrainService } from '../src/domain/connections/drain.service.js';
import { TestApp } from './support/test-app.js';

/**
 * Credentials never reach a log line. Browsers put the JWT in the query string (`?token=`), and
 * resumes put the reconnect token there too, so any log of a request URL, a handshake error or
 * a verification failure would leak them. Everything the app logs is captured at every level
 * (a Nest logger override for debug/verbose too, plus raw stdout/stderr and console writes),
 * along with every domain event payload (hosts log those), while tokens are used, refused and
 * resumed; no token may appear in any of it. The built demo app (`dist/main.js`, pino JSON logs
 * at the most verbose level) gets the same treatment as a child process, its whole output read.
 */

const DEMO = new URL('../dist/main.js', import.meta.url).pathname;

function expectNoSecrets(text: string, secrets: string[], where: string): void {
  for (const secret of secrets) {
    // The whole token, and each of its long parts (a log may cut a token or print a segment).
    for (const part of [secret, ...secret.split('.').filter((p) => p.length >= 16)]) {
      expect(text.includes(part), `${where} contains a token (${part.slice(0, 12)}…)`).toBe(false);
    }
  }
}

interface Capture {
  lines: string[];
  restore(): void;
}

function captureEverything(): Capture {
  const lines: string[] = [];
  const text = (args: unknown[]) =>
    args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  const logger: LoggerService = {
    log: (...a: unknown[]) => void lines.push(`log ${text(a)}`),
    error: (...a: unknown[]) => void lines.push(`error ${text(a)}`),
    warn: (...a: unknown[]) => void lines.push(`warn ${text(a)}`),
    debug: (...a: unknown[]) => void lines.push(`debug ${text(a)}`),
    verbose: (...a: unknown[]) => void lines.push(`verbose ${text(a)}`),
    fatal: (...a: unknown[]) => void lines.push(`fatal ${text(a)}`),
  };
  Logger.overrideLogger(logger);
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tap =
    (write: typeof out) =>
    (chunk: any, ...rest: any[]): boolean => {
      lines.push(`raw ${typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()}`);
      return write(chunk, ...rest);
    };
  process.stdout.write = tap(out) as typeof process.stdout.write;
  process.stderr.write = tap(err) as typeof process.stderr.write;
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const originals = methods.map((m) => console[m]);
  for (const m of methods) {
    const original = console[m];
    console[m] = (...a: unknown[]) => {
      lines.push(`console.${m} ${text(a)}`);
      original(...a);
    };
  }
  return {
    lines,
    restore() {
      process.stdout.write = out;
      process.stderr.write = err;
      methods.forEach((m, i) => (console[m] = originals[i]));
      Logger.overrideLogger(['error']);
    },
  };
}

describe('tokens never appear in logs', () => {
  let t: TestApp;
  let capture: Capture | undefined;
  afterEach(async () => {
    capture?.restore();
    capture = undefined;
    await t.close();
  });

  it('JWTs in ?token= and Authorization, refused tokens, reconnect tokens and reauth tokens appear in no log line and no event', async () => {
    t = await TestApp.create({ options: { maxPayloadBytes: 4096, rateLimitPoints: 1000 } });
    capture = captureEverything();
    const secrets: string[] = [];
    const keep = (s: string) => (secrets.push(s), s);

    // Accepted, in the query string and in the header; then normal traffic.
    const alice = await t.connect(keep(t.token({ sub: 'alice', name: 'Alice' })));
    const bob = await t.connect(null, { headers: { Authorization: `Bearer ${keep(t.token({ sub: 'bob' }))}` } });
    await alice.join('c1');
    await bob.join('c1');
    alice.send({ type: 'message', canvasId: 'c1', data: { hello: 1 } });
    await bob.next('message');

    // Refused: wrong secret, expired, malformed, alg none, garbage that looks like a credential.
    const refused = [
      t.token({ sub: 'eve' }, {}, 'some-other-secret-that-is-long-enough'),
      t.token({ sub: 'eve', exp: Math.floor(Date.now() / 1000) - 60 }),
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"eve","tenantId":"t1"}').toString('base64url')}.`,
      'eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.c2VjcmV0LWxvb2tpbmctc2lnbmF0dXJl',
      'definitely-not-a-jwt-but-secret-SENTINEL-1234567890',
    ];
    for (const token of refused) {
      keep(token);
      expect((await t.refusal(`?token=${encodeURIComponent(token)}`)).status).toBe(401);
      expect((await t.refusal('', { Authorization: `Bearer ${token}` })).status).toBe(401);
      if (/^[\w.-]+$/.test(token)) expect((await t.refusal('', { 'Sec-WebSocket-Protocol': `canvas.v1, canvas.auth.${token}` })).status).toBe(401);
    }

    // In Sec-WebSocket-Protocol: accepted, ambiguous (two entries) and without canvas.v1.
    const carol = await t.connect(null, { protocols: ['canvas.v1', `canvas.auth.${keep(t.token({ sub: 'carol' }))}`] });
    keep(carol.ack.reconnectToken);
    const two = `canvas.v1, canvas.auth.${keep(t.token({ sub: 'x' }))}, canvas.auth.${keep(t.token({ sub: 'y' }))}`;
    expect((await t.refusal('', { 'Sec-WebSocket-Protocol': two })).status).toBe(401);
    expect((await t.refusal('', { 'Sec-WebSocket-Protocol': `canvas.auth.${keep(t.token({ sub: 'z' }))}` })).status).toBe(401);
    await carol.close(1001);
    keep((await t.connect(null, { protocols: ['canvas.v1', `canvas.resume.${carol.ack.reconnectToken}`] })).ack.reconnectToken);
    expect((await t.refusal('', { 'Sec-WebSocket-Protocol': `canvas.v1, canvas.resume.${carol.ack.reconnectToken}` })).status).toBe(401);

    // Reauth frames carrying tokens, valid and not.
    expect(await alice.request({ type: 'reauth', token: keep(t.token({ sub: 'alice', name: 'Alice' })) })).toMatchObject({ type: 'reauth_ok' });
    expect(await alice.request({ type: 'reauth', token: keep(t.token({ sub: 'alice' }, {}, 'wrong-secret-wrong-secret-wrong')) })).toMatchObject({
      code: 'UNAUTHORIZED',
    });

    // Resume with ?reconnectToken= (alone, then with a JWT), a used-up one, and a forged one.
    const aliceReconnect = keep(alice.ack.reconnectToken);
    await alice.close(1001);
    const back = await t.resume(aliceReconnect);
    expect(back.ack.resumed).toBe(true);
    expect((await t.refusal(`?reconnectToken=${encodeURIComponent(aliceReconnect)}`)).status).toBe(401);
    expect((await t.refusal(`?reconnectToken=${keep('forged-reconnect-token-SENTINEL-abcdefghijklmnop')}`)).status).toBe(401);
    const bobReconnect = keep(bob.ack.reconnectToken);
    await bob.close(1001);
    await t.resume(bobReconnect, keep(t.token({ sub: 'bob' })));
    keep(back.ack.reconnectToken);

    // Things that do log: a socket error (debug) and a drain (log). They prove the capture works.
    const big = await t.connect(keep(t.token({ sub: 'big' })));
    big.send(`{"type":"ping","id":"${'x'.repeat(5000)}"}`);
    expect((await big.closed).code).toBe(1009);
    await t.until(() => capture!.lines.some((l) => l.includes('socket error')), 3000, 'the debug line of the 1009 close');
    await t.get(DrainService).drain();
    expect(capture.lines.some((l) => l.includes('draining'))).toBe(true);

    const logged = capture.lines.join('\n');
    expectNoSecrets(logged, secrets, 'a log line');
    expectNoSecrets(JSON.stringify(t.events), secrets, 'a domain event');
    expect(logged).not.toMatch(/token=|reconnectToken=|Bearer /);
  });

  it.skipIf(!existsSync(DEMO))(
    'the demo app (dist/main.js, LOG_LEVEL=verbose) writes no token to stdout or stderr',
    async () => {
      t = await TestApp.create(); // unused here; keeps afterEach uniform
      const secret = randomBytes(32).toString('hex');
      const sign = (claims: object) => {
        const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
        const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ tenantId: 't1', exp: Math.floor(Date.now() / 1000) + 600, ...claims })}`;
        return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
      };
      const port = await new Promise<number>((resolve) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as { port: number }).port;
          srv.close(() => resolve(p));
        });
      });
      const child = spawn(process.execPath, [DEMO], {
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: secret, LOG_LEVEL: 'verbose', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        const deadline = Date.now() + 20_000;
        while (
          !(await new Promise((r) =>
            connect(port, '127.0.0.1')
              .once('connect', function (this: any) {
                this.destroy();
                r(true);
              })
              .once('error', () => r(false)),
          ))
        ) {
          if (Date.now() > deadline) throw new Error(`demo did not start:\n${output}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const url = `ws://127.0.0.1:${port}/ws`;
        const open = (query: string, headers?: Record<string, string>, protocols: string[] = []) =>
          new Promise<{ ws: WebSocket; ack: any } | number>((resolve) => {
            const ws = new WebSocket(`${url}${query}`, protocols, { headers });
            ws.once('message', (raw) => resolve({ ws, ack: JSON.parse(raw.toString()) }));
            ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          });
        const secrets = [
          sign({ sub: 'alice' }),
          sign({ sub: 'bob' }),
          sign({ sub: 'eve', exp: 1 }),
          `${sign({ sub: 'eve' })}x`,
          'plain-secret-SENTINEL-0123456789abcdef',
        ];
        const a = (await open(`?token=${secrets[0]}`)) as { ws: WebSocket; ack: any };
        const b = (await open('', { Authorization: `Bearer ${secrets[1]}` })) as { ws: WebSocket; ack: any };
        for (const bad of secrets.slice(2)) {
          expect(await open(`?token=${encodeURIComponent(bad)}`)).toBe(401);
          expect(await open('', { Authorization: `Bearer ${bad}` })).toBe(401);
        }
        a.ws.send(JSON.stringify({ type: 'reauth', token: secrets[2] }));
        a.ws.send(JSON.stringify({ type: 'reauth', token: secrets[0] }));
        secrets.push(a.ack.reconnectToken, b.ack.reconnectToken);
        a.ws.close(1001);
        await new Promise((r) => a.ws.once('close', r));
        const back = (await open(`?reconnectToken=${a.ack.reconnectToken}`)) as { ws: WebSocket; ack: any };
        expect(back.ack.resumed).toBe(true);
        secrets.push(back.ack.reconnectToken);
        expect(await open(`?reconnectToken=${a.ack.reconnectToken}`)).toBe(401);
        // Credentials in Sec-WebSocket-Protocol: a login, a resume, a refused one; and plain HTTP requests carrying the header.
        const c = (await open('', {}, ['canvas.v1', `canvas.auth.${secrets[1]}`])) as { ws: WebSocket; ack: any };
        expect(c.ack.type).toBe('connection_ack');
        secrets.push(c.ack.reconnectToken);
        expect(await open('', {}, ['canvas.v1', `canvas.auth.${secrets[2]}`])).toBe(401);
        expect(await open('', {}, ['canvas.v1', `canvas.resume.${a.ack.reconnectToken}`])).toBe(401);
        for (const path of [`/ws-nope?token=${secrets[0]}`, `/health?token=${secrets[1]}`, `/?reconnectToken=${b.ack.reconnectToken}`]) {
          await fetch(`http://127.0.0.1:${port}${path}`, {
            headers: { Authorization: `Bearer ${secrets[1]}`, 'Sec-WebSocket-Protocol': `canvas.v1, canvas.resume.${b.ack.reconnectToken}` },
          }).catch(() => undefined);
        }
        await new Promise((r) => setTimeout(r, 300));
        child.kill('SIGTERM');
        await exited;
        expect(output, 'the demo logged nothing at all: the capture is broken').toMatch(/connection established|listening/);
        expectNoSecrets(output, secrets, 'the demo output');
      } finally {
        child.kill('SIGKILL');
      }
    },
    60_000,
  );
});
