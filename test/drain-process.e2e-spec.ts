import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { attemptRefusal, TEST_SECRET } from './support/test-app.js';
import { TestClient } from './support/test-client.js';
import { frozenPeer, type FrozenPeer } from './support/continuity.js';
import { onFreePort } from './support/free-port.js';

/**
 * Graceful drain of a real process (issue 3): `node dist/main.js` (built by `npm test`'s
 * pretest) gets SIGTERM → every client sees close 1012 "service restart", new upgrades get
 * 503 DRAINING, and the process exits with code 0 (not by the signal) within the drain time.
 */

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const DRAIN_MS = 3000;

interface Server {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

async function startServer(): Promise<Server> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does it in pretest)`);
  return onFreePort(startServerOn);
}

async function startServerOn(port: number): Promise<Server> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, WS_DRAIN_TIMEOUT_MS: String(DRAIN_MS), LOG_LEVEL: 'log' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const deadline = Date.now() + 30_000;
  while (!/listening on/.test(out)) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) throw new Error(`server did not log "listening on" within 30 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, port, output: () => out, exited };
}

const jwtFor = (sub: string): string => jwt.sign({ sub, tenantId: 't1' }, TEST_SECRET, { algorithm: 'HS256', expiresIn: 3600 });

async function client(port: number, sub: string): Promise<TestClient> {
  const c = new TestClient(new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(jwtFor(sub))}`));
  await c.next('connection_ack', 10_000);
  return c;
}

describe('graceful drain of a real process on SIGTERM', () => {
  let server: Server | undefined;
  const open: Array<{ close(): void }> = [];
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    server = undefined;
  });

  it('every client sees close 1012 "service restart" and the process exits 0 within the drain time', async () => {
    server = await startServer();
    const clients = [await client(server.port, 'alice'), await client(server.port, 'alice'), await client(server.port, 'bob')];
    for (const c of clients) open.push({ close: () => c.ws.terminate() });
    for (const c of clients) expect(await c.join('c1')).toMatchObject({ type: 'room_joined' });

    const sentAt = Date.now();
    server.child.kill('SIGTERM');
    for (const c of clients) expect(await c.closed).toEqual({ code: 1012, reason: 'service restart' });
    const exit = await server.exited;
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.at - sentAt).toBeLessThan(DRAIN_MS + 5000);
  }, 60_000);

  it('a client that never answers the close: new upgrades get 503 DRAINING meanwhile, and the process still exits 0 after the bounded drain', async () => {
    server = await startServer();
    const quick = await client(server.port, 'bob');
    open.push({ close: () => quick.ws.terminate() });
    const frozen: FrozenPeer = await frozenPeer(server.port, `/ws?token=${encodeURIComponent(jwtFor('alice'))}`);
    open.push({ close: () => frozen.destroy() });

    const sentAt = Date.now();
    server.child.kill('SIGTERM');
    expect(await quick.closed).toEqual({ code: 1012, reason: 'service restart' });
    const refusal = await attemptRefusal(`ws://127.0.0.1:${server.port}/ws?token=${encodeURIComponent(jwtFor('carol'))}`);
    expect(refusal.status).toBe(503);
    expect(refusal.body).toEqual({ error: { code: 'DRAINING', message: expect.any(String) } });
    expect(Number(refusal.headers['retry-after'])).toBeGreaterThan(0);

    const exit = await server.exited;
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.at - sentAt).toBeGreaterThanOrEqual(DRAIN_MS - 200);
    expect(exit.at - sentAt).toBeLessThan(DRAIN_MS + 5000);
  }, 60_000);
});
