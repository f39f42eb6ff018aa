import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENV_KEYS } from '../src/demo/env.schema.js';
import { TestClient } from './support/test-client.js';
import { freePort, onFreePort } from './support/free-port.js';

/**
 * The BUILT demo server (`node dist/main.js`, what the README runs) as a child process:
 * configured from the environment, logging where it listens, serving a working WebSocket with
 * Presence and Router wired; a bad or missing setting exits 1 with one line naming it.
 * `npm test` builds first (pretest); run `npm run build` before running this file alone.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const SECRET = 'demo-e2e-secret-that-is-long-enough';

class DemoProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for `pattern` on stdout; fails early if the process exits first. */
  async waitForStdout(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (!this.running)
        throw new Error(`demo server exited (${this.child.exitCode}) before ${pattern}; stdout: ${this.stdout.slice(-2000)}; stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; stdout: ${this.stdout}; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const killed = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    if (!killed && this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** The test runner's environment without any of the app's variables, plus `vars`. */
function envWith(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ENV_KEYS) delete env[key];
  return { ...env, NO_COLOR: '1', ...vars };
}

// Start-up of a whole Nest app in a child process can take seconds on a busy 2-core machine.
describe('demo app (node dist/main.js)', { timeout: 90_000 }, () => {
  let proc: DemoProcess | undefined;
  const clients: TestClient[] = [];

  beforeAll(() => {
    expect(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`).toBe(true);
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await proc?.stop();
    proc = undefined;
  });

  function start(vars: Record<string, string>): DemoProcess {
    proc = new DemoProcess(spawn(process.execPath, [MAIN], { cwd: ROOT, env: envWith(vars), stdio: ['ignore', 'pipe', 'pipe'] }));
    return proc;
  }

  function startListening(vars: Record<string, string>): Promise<{ p: DemoProcess; port: number }> {
    return onFreePort(async (port) => {
      const p = start({ HOST: '127.0.0.1', PORT: String(port), JWT_SECRET: SECRET, WS_DRAIN_TIMEOUT_MS: '1000', ...vars });
      await p.waitForStdout(/listening on/);
      return { p, port };
    });
  }

  async function open(port: number, token: string): Promise<TestClient> {
    const client = new TestClient(new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`));
    clients.push(client);
    await new Promise<void>((resolve, reject) => {
      client.ws.once('open', () => resolve());
      client.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      client.ws.once('error', reject);
    });
    return client;
  }

  /** stdout's JSON log lines at warn level or above (pino: label "warn"/"error"/"fatal", or a number ≥ 40) that mention DEMO_MODE. */
  function demoModeWarnings(p: DemoProcess): Array<Record<string, unknown>> {
    return p.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => (['warn', 'error', 'fatal'].includes(String(l.level)) || Number(l.level) >= 40) && String(l.msg).includes('DEMO_MODE'));
  }

  async function demoToken(port: number, query: string): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${port}/demo/token?${query}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; expiresIn: number };
    expect(body).toEqual({ token: expect.any(String), expiresIn: 3600 });
    return body.token;
  }

  it('DEMO_MODE: logs where it listens, mints a token, and a real client connects, joins and sees presence', async () => {
    const { p, port } = await startListening({ DEMO_MODE: 'true' });
    expect(p.stdout).toContain(`127.0.0.1:${port}`);
    expect(p.stdout).toMatch(/\/ws\b/);
    // It says so at start-up, at warn level (issue 12 §7): the token endpoint trusts anyone.
    expect(demoModeWarnings(p)).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringContaining('/demo/token') })]);

    const alice = await open(port, await demoToken(port, 'user=alice&name=Alice'));
    expect(await alice.next()).toMatchObject({ type: 'connection_ack', userId: 'alice', tenantId: 'demo', resumed: false, rooms: [] });
    alice.send({ type: 'join', canvasId: 'c1', id: 'r1' });
    expect(await alice.next()).toEqual({ type: 'room_joined', id: 'r1', roomId: 'canvas:c1', canvasId: 'c1', pos: expect.any(String) });
    expect(await alice.next()).toEqual({
      type: 'presence_state',
      roomId: 'canvas:c1',
      canvasId: 'c1',
      members: [{ userId: 'alice', name: 'Alice', connections: 1 }],
    });

    // Presence and Router are wired: a second user is announced and its messages routed.
    const bob = await open(port, await demoToken(port, 'user=bob'));
    await bob.next('connection_ack');
    await bob.join('c1');
    expect(await alice.next()).toEqual({ type: 'presence_join', roomId: 'canvas:c1', canvasId: 'c1', member: { userId: 'bob', connections: 1 } });
    bob.send({ type: 'message', canvasId: 'c1', data: { x: 1 } });
    expect(await alice.next('message')).toMatchObject({ roomId: 'canvas:c1', canvasId: 'c1', from: { userId: 'bob' }, data: { x: 1 } });
  });

  it('without DEMO_MODE /demo/token is 404, and the WebSocket takes tokens signed with JWT_SECRET', async () => {
    const { p, port } = await startListening({});
    const res = await fetch(`http://127.0.0.1:${port}/demo/token?user=alice`);
    expect(res.status).toBe(404);
    expect(demoModeWarnings(p)).toEqual([]);
    const client = await open(port, jwt.sign({ sub: 'u1', tenantId: 't1' }, SECRET, { algorithm: 'HS256', expiresIn: 60 }));
    expect(await client.next()).toMatchObject({ type: 'connection_ack', userId: 'u1', tenantId: 't1' });
  });

  it('missing JWT_SECRET: exits with code 1 and one stderr line naming JWT_SECRET', async () => {
    const p = start({ HOST: '127.0.0.1', PORT: String(await freePort()) });
    const { code } = await p.exited;
    expect(code).toBe(1);
    const lines = p.stderr.split('\n').filter((l) => l.trim().length > 0);
    expect(lines, p.stderr).toHaveLength(1);
    expect(lines[0]).toContain('JWT_SECRET');
    expect(p.stdout).not.toMatch(/listening on/);
  });

  it('DEMO_MODE=true with NODE_ENV=production: exits with code 1 and one stderr line naming DEMO_MODE, before listening', async () => {
    const p = start({ HOST: '127.0.0.1', PORT: String(await freePort()), JWT_SECRET: SECRET, DEMO_MODE: 'true', NODE_ENV: 'production' });
    const { code } = await p.exited;
    expect(code).toBe(1);
    const lines = p.stderr.split('\n').filter((l) => l.trim().length > 0);
    expect(lines, p.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/DEMO_MODE .*NODE_ENV=production/);
    expect(p.stdout).not.toMatch(/listening on/);
  });

  it('WS_MAX_CONNECTIONS=abc: exits with code 1 and one stderr line naming WS_MAX_CONNECTIONS', async () => {
    const p = start({ HOST: '127.0.0.1', PORT: String(await freePort()), JWT_SECRET: SECRET, WS_MAX_CONNECTIONS: 'abc' });
    const { code } = await p.exited;
    expect(code).toBe(1);
    const lines = p.stderr.split('\n').filter((l) => l.trim().length > 0);
    expect(lines, p.stderr).toHaveLength(1);
    expect(lines[0]).toContain('WS_MAX_CONNECTIONS');
    expect(lines[0]).not.toContain('JWT_SECRET');
  });
});
