import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_KEYS } from '../src/demo/env.schema.js';
import { onFreePort } from './support/free-port.js';
import { recordingProxy } from './support/recording-proxy.js';

/**
 * The demo page in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run
 * when missing) driven headless by playwright-core, against the BUILT demo app
 * (`node dist/main.js` with DEMO_MODE=true) in a child process. `npm test` builds first
 * (pretest); run `npm run build` before running this file alone.
 *
 * Screenshots land in test-artifacts/ (gitignored). UPDATE_DEMO_SCREENSHOT=1 also rewrites the
 * README's docs/demo-screenshot.png.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const PAGE_JS = fileURLToPath(new URL('../dist/sdk/client/demo/demo.js', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const README_SHOT = fileURLToPath(new URL('../docs/demo-screenshot.png', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const SECRET = 'browser-e2e-secret-that-is-long-enough';

type Pt = [number, number];

// The functions given to page.evaluate / waitForFunction run in the browser. This file is
// compiled without the DOM lib (tsconfig.json is the server's), so the names they use are
// declared here, for this module only.
declare const document: any;
declare const window: {
  demo: {
    states: Array<{ state: string; missed?: string; closeCode?: number }>;
    receivedStrokes: string[];
    sentStrokes: string[];
    errors: Array<{ code: string }>;
    client?: { state: string };
  };
};

/** The test runner's environment without any of the app's variables, plus `vars`. */
function envWith(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ENV_KEYS) delete env[key];
  return { ...env, NO_COLOR: '1', ...vars };
}

/** Waits for the page's status badge to show `state`. */
async function badge(page: Page, state: string, timeout = 30_000): Promise<void> {
  await page.waitForFunction((s) => document.getElementById('status')?.dataset.state === s, state, { timeout });
}

/** Drags the mouse through `points` (0–1 of the canvas), drawing one stroke. */
async function draw(page: Page, points: Pt[]): Promise<void> {
  const box = (await page.locator('#canvas').boundingBox())!;
  const at = ([x, y]: Pt): [number, number] => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 2 });
  await page.mouse.up();
}

/** Hovers over the canvas (cursor messages are throttled to one per 50 ms). */
async function hover(page: Page, from: Pt, to: Pt): Promise<void> {
  const box = (await page.locator('#canvas').boundingBox())!;
  for (let i = 0; i <= 10; i++) {
    const t = i / 10;
    await page.mouse.move(box.x + (from[0] + (to[0] - from[0]) * t) * box.width, box.y + (from[1] + (to[1] - from[1]) * t) * box.height);
    await page.waitForTimeout(30);
  }
}

const wave = (y: number, x0: number, x1: number, amp: number): Pt[] =>
  Array.from({ length: 25 }, (_, i) => {
    const x = x0 + ((x1 - x0) * i) / 24;
    return [x, y + amp * Math.sin((i / 24) * Math.PI * 3)];
  });
const circle = (cx: number, cy: number, r: number): Pt[] =>
  Array.from({ length: 33 }, (_, i) => [cx + r * 0.625 * Math.cos((i / 32) * Math.PI * 2), cy + r * Math.sin((i / 32) * Math.PI * 2)]);

/** Whether the canvas has any painted pixel within a few pixels of `p` (0–1 coordinates). */
function paintedNear(page: Page, p: Pt): Promise<boolean> {
  return page.evaluate(([x, y]: Pt) => {
    const c = document.getElementById('canvas');
    const px = Math.round(x * c.width);
    const py = Math.round(y * c.height);
    const data = c.getContext('2d')!.getImageData(px - 4, py - 4, 9, 9).data;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) return true;
    return false;
  }, p);
}

describe('demo page in Chromium (playwright-core)', { timeout: 240_000 }, () => {
  let server: ChildProcess | undefined;
  let stdout = '';
  let browser: Browser | undefined;
  let base = '';
  let serverPort = 0;
  const contexts: BrowserContext[] = [];
  /** Uncaught errors in the pages (none expected). */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`).toBe(true);
    expect(existsSync(PAGE_JS), `${PAGE_JS} is missing: run \`npm run build\` first`).toBe(true);
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`).toBe(true);
    serverPort = await onFreePort(async (port) => {
      stdout = '';
      const child = spawn(process.execPath, [MAIN], {
        cwd: ROOT,
        env: envWith({
          HOST: '127.0.0.1',
          PORT: String(port),
          JWT_SECRET: SECRET,
          DEMO_MODE: 'true',
          WS_RATE_LIMIT_POINTS: '500',
          WS_DRAIN_TIMEOUT_MS: '1000',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      server = child;
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
      const deadline = Date.now() + 90_000;
      while (!/listening on/.test(stdout)) {
        if (child.exitCode !== null) throw new Error(`demo server exited: ${stdout}`);
        if (Date.now() > deadline) throw new Error(`demo server did not start: ${stdout}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return port;
    });
    base = `http://127.0.0.1:${serverPort}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // playwright gives every launch a fresh, empty profile (user data dir) of its own.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 90_000,
    });
  }, 180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  }, 60_000);

  /** Opens the demo page at `origin` (default: the server itself); `prepare` runs before it loads. */
  async function openPage(query: string, origin = base, prepare?: (page: Page) => void): Promise<Page> {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => pageErrors.push(`${query}: ${String(err)}`));
    prepare?.(page);
    await page.goto(`${origin}/demo?${query}`);
    return page;
  }

  it('the page connects and resumes with no credential in any URL: the JWT and the reconnect token travel in Sec-WebSocket-Protocol', async () => {
    // Through a proxy that records every byte, as a logging reverse proxy would see the requests.
    const proxy = await recordingProxy(serverPort);
    try {
      const socketUrls: string[] = [];
      const carol = await openPage('name=Carol&canvas=quiet&retryMs=200', `http://127.0.0.1:${proxy.port}`, (page) =>
        page.on('websocket', (ws) => socketUrls.push(ws.url())),
      );
      await badge(carol, 'connected');
      const res = await fetch(`${base}/demo/drop?user=carol`, { method: 'POST' });
      expect(await res.json()).toEqual({ dropped: 1 });
      await badge(carol, 'resumed');

      // The page's WebSocket URLs: the bare endpoint, twice (login, then resume).
      expect(socketUrls).toEqual([`ws://127.0.0.1:${proxy.port}/ws`, `ws://127.0.0.1:${proxy.port}/ws`]);
      // What the server was sent: no credential in any request target, the credentials in the header.
      const requests = proxy.requests();
      const upgrades = requests.filter((r) => r.headers.upgrade?.toLowerCase() === 'websocket');
      expect(upgrades.map((u) => u.target)).toEqual(['/ws', '/ws']);
      expect(upgrades[0]?.headers['sec-websocket-protocol']).toMatch(/^canvas\.v1, canvas\.auth\.eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      // The resume also carries the room's last processed position (canvas.pos.<base64url>), which a browser sends as any other entry.
      expect(upgrades[1]?.headers['sec-websocket-protocol']).toMatch(/^canvas\.v1, canvas\.resume\.[\w-]{32}, canvas\.pos\.[\w-]+$/);
      for (const r of requests) expect(r.target, 'a request target carries a credential').not.toMatch(/token=|eyJ/i);
      // The server selected exactly canvas.v1 each time: never an entry carrying a credential.
      expect(proxy.upgrades().map((u) => u.headers['sec-websocket-protocol'])).toEqual(['canvas.v1', 'canvas.v1']);
      expect(pageErrors).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("two users see each other's cursor and presence; a dropped socket shows reconnecting → resumed with the strokes drawn meanwhile", async () => {
    // Alice's first reconnect waits 15 s (retryMs), so that Bob can draw while she is away.
    const alice = await openPage('name=Alice&canvas=studio&retryMs=15000');
    const bob = await openPage('name=Bob&canvas=studio');
    await Promise.all([badge(alice, 'connected'), badge(bob, 'connected')]);

    // presence: both lists show both users
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => document.querySelectorAll('#presence li').length === 2);
      expect(await page.locator('#presence li').evaluateAll((lis) => lis.map((li) => (li as any).dataset.userId).sort())).toEqual(['alice', 'bob']);
    }
    await expect(alice.locator('#presence li[data-user-id="alice"]').textContent()).resolves.toContain('Alice (you)');
    await expect(alice.locator('#presence li[data-user-id="bob"]').textContent()).resolves.toContain('Bob');

    // live cursors, both ways, with the other's name
    await hover(alice, [0.2, 0.3], [0.3, 0.35]);
    await bob.locator('.cursor[data-user-id="alice"]').waitFor({ state: 'visible' });
    await expect(bob.locator('.cursor[data-user-id="alice"]').textContent()).resolves.toBe('Alice');
    await hover(bob, [0.7, 0.6], [0.6, 0.5]);
    await alice.locator('.cursor[data-user-id="bob"]').waitFor({ state: 'visible' });

    // a stroke by Alice reaches Bob
    await draw(alice, wave(0.28, 0.08, 0.55, 0.08));
    await bob.waitForFunction(() => window.demo.receivedStrokes.length === 1);
    expect(await paintedNear(bob, [0.08, 0.28])).toBe(true);

    // The server destroys Alice's socket (no close frame; the session stays resumable).
    const res = await fetch(`${base}/demo/drop?user=alice`, { method: 'POST' });
    expect(await res.json()).toEqual({ dropped: 1 });
    await alice.waitForFunction(() => window.demo.states.some((s) => s.state === 'reconnecting'));
    await expect(alice.locator('#status').textContent()).resolves.toBe('reconnecting');

    // Meanwhile Bob draws two strokes; Alice is still away when he is done.
    await draw(bob, circle(0.7, 0.55, 0.2));
    await draw(bob, wave(0.85, 0.3, 0.9, 0.04));
    const bobStrokes = await bob.evaluate(() => window.demo.sentStrokes);
    expect(bobStrokes).toHaveLength(2);
    expect(await alice.evaluate(() => window.demo.client!.state)).toBe('reconnecting');
    expect(await alice.evaluate(() => window.demo.receivedStrokes.length)).toBe(0);

    // Alice resumes by herself, and Bob's strokes are replayed onto her canvas.
    await badge(alice, 'resumed');
    await alice.waitForFunction((n) => window.demo.receivedStrokes.length === n, bobStrokes.length);
    expect(await alice.evaluate(() => window.demo.receivedStrokes)).toEqual(bobStrokes);
    expect(await alice.evaluate(() => window.demo.states)).toEqual([
      { state: 'connected' },
      { state: 'reconnecting', closeCode: 1006 },
      { state: 'resumed', missed: 'replayed' },
    ]);
    expect(await paintedNear(alice, [0.7 + 0.2 * 0.625, 0.55])).toBe(true); // a point of Bob's circle
    expect(await paintedNear(alice, [0.9, 0.85])).toBe(true); // the end of his wave
    await expect(alice.locator('#status').textContent()).resolves.toBe('resumed');

    // presence and cursors are live again
    await alice.waitForFunction(() => document.querySelectorAll('#presence li').length === 2);
    await bob.waitForFunction(() => document.querySelectorAll('#presence li').length === 2);
    await hover(bob, [0.45, 0.4], [0.5, 0.45]);
    await alice.locator('.cursor[data-user-id="bob"]').waitFor({ state: 'visible' });
    await hover(alice, [0.3, 0.6], [0.35, 0.62]);
    await bob.locator('.cursor[data-user-id="alice"]').waitFor({ state: 'visible' });

    const errors = await alice.evaluate(() => window.demo.errors.map((e) => e.code));
    expect(errors.filter((c) => c !== 'CONNECT_FAILED')).toEqual([]);
    expect(pageErrors).toEqual([]);

    mkdirSync(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: `${ARTIFACTS}demo-browser-alice.png` });
    await bob.screenshot({ path: `${ARTIFACTS}demo-browser-bob.png` });
    if (process.env.UPDATE_DEMO_SCREENSHOT === '1') await alice.screenshot({ path: README_SHOT });
    expect(existsSync(`${ARTIFACTS}demo-browser-alice.png`)).toBe(true);
  });
});
