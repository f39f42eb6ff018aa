import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENV_KEYS } from '../src/demo/env.schema.js';
import { onFreePort } from './support/free-port.js';
import type * as SdkModule from '../client/index.js';

/**
 * The demo page's endpoints on the BUILT demo app (`node dist/main.js`): they exist only with
 * DEMO_MODE=true; the page's ES modules (the compiled SDK, no bundler) are all served, nothing
 * else is; /demo/drop ends sockets without ending sessions; and the compiled SDK runs in Node.
 * `npm test` builds first (pretest); run `npm run build` before running this file alone.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const BUILT_SDK = fileURLToPath(new URL('../dist/sdk/client/index.js', import.meta.url));
const SECRET = 'demo-page-e2e-secret-that-is-long-enough';

function startServer(demoMode: boolean): Promise<{ child: ChildProcess; base: string }> {
  return onFreePort((port) => startServerOn(port, demoMode));
}

async function startServerOn(port: number, demoMode: boolean): Promise<{ child: ChildProcess; base: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ENV_KEYS) delete env[key];
  Object.assign(env, {
    NO_COLOR: '1',
    HOST: '127.0.0.1',
    PORT: String(port),
    JWT_SECRET: SECRET,
    WS_DRAIN_TIMEOUT_MS: '1000',
    ...(demoMode ? { DEMO_MODE: 'true' } : {}),
  });
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 90_000;
  while (!/listening on/.test(out)) {
    if (child.exitCode !== null) throw new Error(`demo server exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`demo server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, base: `http://127.0.0.1:${port}` };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

describe('demo page endpoints (node dist/main.js)', { timeout: 120_000 }, () => {
  let demo: { child: ChildProcess; base: string } | undefined;
  let plain: { child: ChildProcess; base: string } | undefined;

  beforeAll(async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`).toBe(true);
    expect(existsSync(BUILT_SDK), `${BUILT_SDK} is missing: run \`npm run build\` first`).toBe(true);
    [demo, plain] = await Promise.all([startServer(true), startServer(false)]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([stop(demo?.child), stop(plain?.child)]);
  }, 30_000);

  it('without DEMO_MODE there is no page, no SDK route, no drop and no token endpoint', async () => {
    const base = plain!.base;
    expect((await fetch(`${base}/demo`)).status).toBe(404);
    expect((await fetch(`${base}/demo/sdk/client/index.js`)).status).toBe(404);
    expect((await fetch(`${base}/demo/drop?user=alice`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${base}/demo/token?user=alice`)).status).toBe(404);
  });

  it('serves the page and every ES module it imports, and nothing outside the compiled SDK', async () => {
    const base = demo!.base;
    const page = await fetch(`${base}/demo`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    const entry = /<script type="module" src="([^"]+)"><\/script>/.exec(html)?.[1];
    expect(entry).toBe('/demo/sdk/client/demo/demo.js');

    // Follow the static imports from the page script: each module must come back as JavaScript
    // (browsers refuse module scripts with another MIME type).
    const seen = new Set<string>();
    const queue = [new URL(entry!, base).href];
    while (queue.length > 0) {
      const url = queue.shift()!;
      if (seen.has(url)) continue;
      seen.add(url);
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toMatch(/^text\/javascript/);
      const code = (await res.text()).replace(/\/\*[\s\S]*?\*\//g, ''); // (doc comments show import examples)
      for (const m of code.matchAll(/(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g)) queue.push(new URL(m[1], url).href);
    }
    const paths = [...seen].map((u) => new URL(u).pathname).sort();
    expect(paths).toEqual(
      expect.arrayContaining([
        '/demo/sdk/client/demo/demo.js',
        '/demo/sdk/client/index.js',
        '/demo/sdk/client/client.js',
        '/demo/sdk/src/protocol/protocol.types.js',
      ]),
    );

    for (const path of [
      '/demo/sdk/client/index.d.ts',
      '/demo/sdk/..%2F..%2Fpackage.json',
      '/demo/sdk/%2E%2E/%2E%2E/package.json',
      '/demo/sdk/client/nope.js',
    ]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/demo/drop?user=${encodeURIComponent('a b')}`, { method: 'POST' })).status).toBe(400);
    expect((await fetch(`${base}/demo/drop`, { method: 'POST' })).status).toBe(400);
  });

  it('the compiled SDK runs in Node; /demo/drop ends the socket, not the session', async () => {
    const base = demo!.base;
    const sdk = (await import(pathToFileURL(BUILT_SDK).href)) as typeof SdkModule;
    const getToken = async (): Promise<string> => ((await (await fetch(`${base}/demo/token?user=dora&name=Dora`)).json()) as { token: string }).token;
    const client = sdk.connect({ url: `${base.replace('http', 'ws')}/ws`, getToken, WebSocket, backoff: { initialMs: 200, jitter: 0 } });
    const states: string[] = [];
    client.on('state', (e) => states.push(e.state));
    try {
      await client.whenOpen();
      await client.join('c1');
      const sessionId = client.session!.sessionId;

      const res = await fetch(`${base}/demo/drop?user=dora`, { method: 'POST' });
      expect(await res.json()).toEqual({ dropped: 1 });
      const deadline = Date.now() + 20_000;
      while (client.state !== 'resumed') {
        if (Date.now() > deadline) throw new Error(`not resumed: ${states.join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(states).toEqual(['connected', 'reconnecting', 'resumed']);
      expect(client.session!.sessionId).toBe(sessionId);
      expect(client.rooms).toEqual(['c1']);
    } finally {
      client.close();
    }
  });
});
