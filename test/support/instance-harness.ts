import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { attemptRefusal } from './test-app.js';
import { TestClient, type Refusal, type ServerFrame } from './test-client.js';
import { startRedis, useExternalOrStart, type RedisKind, type RedisTarget } from './redis-harness.js';
import { onFreePort } from './free-port.js';

/**
 * App instances as real child processes (`node dist/main.js`), each on its own 127.0.0.1
 * port, all pointing at one Redis, with real WebSocket clients spread across them.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = join(ROOT, 'dist/main.js');
export const CLUSTER_SECRET = 'cluster-test-secret-long-enough-for-hs256';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Preloaded into every instance: exit when the parent's end of stdin closes (no orphans). */
const PARENT_WATCHDOG = `data:text/javascript,${encodeURIComponent("process.stdin.on('end',()=>process.exit(70));process.stdin.on('error',()=>process.exit(70));process.stdin.resume();process.stdin.unref?.();")}`;

/** Start-up deadline of an instance: generous, CI machines can be very busy. */
const START_TIMEOUT_MS = Number(process.env.CM_INSTANCE_START_TIMEOUT_MS ?? 60_000);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ when it is missing or older than src/ (`npm test` builds first; a lone
 * `npx vitest run test/cluster-…` may not have). A lock directory keeps parallel test files
 * from running tsc at the same time. `CM_SKIP_BUILD=1` skips the check.
 */
let checkedBuild = false;
export function ensureBuilt(): void {
  // Once per test file: a later src edit by someone else must not rebuild under running instances.
  if (process.env.CM_SKIP_BUILD === '1' || checkedBuild) return;
  const fresh = () => existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestMtime(join(ROOT, 'src'));
  if (fresh()) {
    checkedBuild = true;
    return;
  }
  const lock = join(ROOT, 'dist.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`could not take ${lock} (remove it if stale)`);
      execFileSync('sleep', ['0.5']);
    }
  }
  try {
    if (!fresh())
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'pipe' });
    checkedBuild = true;
  } catch (err) {
    const e = err as { stdout?: Buffer; message: string };
    const detail = e.stdout?.toString() ?? e.message;
    // tsc still emits on type errors; only a missing entry point is fatal (type-check is its own step).
    if (!existsSync(MAIN)) throw new Error(`build failed (dist/ is needed by the multi-instance tests): ${detail}`, { cause: err });
    console.warn(`tsc reported errors while building dist/ for the multi-instance tests:\n${detail.slice(0, 2000)}`);
    checkedBuild = true;
  } finally {
    rmdirSync(lock);
  }
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Environment every instance gets unless a test overrides it. */
export const DEFAULT_INSTANCE_ENV: Record<string, string> = {
  HOST: '127.0.0.1',
  JWT_SECRET: CLUSTER_SECRET,
  // Long enough that a busy CI machine never lets a live instance's lease lapse; the crash,
  // resume and outage tests set 1500 ms (that lapse has its own test: cluster-crash, SIGSTOP).
  WS_INSTANCE_LEASE_MS: '10000',
  WS_HEARTBEAT_INTERVAL_MS: '5000',
  WS_RATE_LIMIT_POINTS: '100000',
  WS_MESSAGE_RATE_LIMIT: '100000',
  WS_DRAIN_TIMEOUT_MS: '3000',
  // 'log' so that the "listening on" line is printed; the output is only kept in memory.
  LOG_LEVEL: 'log',
  NO_COLOR: '1',
};

/** Variables of the parent environment that must not leak into an instance. */
const SCRUBBED = /^(REDIS_.*|WS_.*|JWT_.*|PORT|HOST|LOG_LEVEL|DEMO_MODE|METRICS_.*|HEALTH_.*)$/;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** One `node dist/main.js` child process. */
export class AppInstance {
  private proc: ChildProcess | undefined;
  private exitInfo: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: 0, signal: null });
  /** Everything the process printed (all runs). */
  output = '';
  private readonly clients = new Set<TestClient>();

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly env: Record<string, string>,
  ) {}

  /** Starts an instance on a free port with `DEFAULT_INSTANCE_ENV` + `env`, and waits until it listens. */
  static start(name: string, env: Record<string, string>): Promise<AppInstance> {
    ensureBuilt();
    return onFreePort(async (port) => {
      const instance = new AppInstance(name, port, { ...DEFAULT_INSTANCE_ENV, ...env, PORT: String(port) });
      await instance.spawn();
      return instance;
    });
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async spawn(): Promise<void> {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SCRUBBED.test(k))) as Record<string, string>;
    // The child exits when its stdin closes, i.e. when this test process dies without cleaning up.
    const proc = spawn(process.execPath, ['--import', PARENT_WATCHDOG, MAIN], { cwd: ROOT, env: { ...base, ...this.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    live.add(proc);
    let listening = false;
    let runOutput = '';
    const onData = (d: Buffer) => {
      this.output += d.toString();
      runOutput += d.toString();
      if (/listening on/.test(runOutput)) listening = true;
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    this.exitInfo = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        resolve({ code, signal });
      }),
    );
    const deadline = Date.now() + START_TIMEOUT_MS;
    // Ready when it logs "listening on" (any log format) or, failing that, accepts TCP on its port.
    for (let n = 0; !listening; n++) {
      if (n % 10 === 9 && (await acceptsTcp(this.port))) break;
      if (!this.alive) throw new Error(`instance ${this.name} exited at start (${proc.exitCode}):\n${this.output.slice(-3000)}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`instance ${this.name} did not log "listening on" within ${START_TIMEOUT_MS} ms:\n${this.output.slice(-3000)}`);
      }
      await sleep(25);
    }
  }

  /** Sends SIGTERM (a drain) or SIGKILL (a crash) and resolves with how the process ended. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.alive) return this.exitInfo;
    this.proc!.kill(signal);
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), timeoutMs);
    const info = await this.exitInfo;
    clearTimeout(timer);
    return info;
  }

  /** Resolves with the exit of the current process (for tests that signal it themselves). */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exitInfo;
  }

  /** Starts the instance again on the same port with the same environment. */
  async restart(): Promise<void> {
    await this.stop('SIGKILL');
    await this.spawn();
  }

  /** Terminates this instance's clients and kills the process. */
  async destroy(): Promise<void> {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    await this.stop('SIGKILL');
  }

  /**
   * Opens a client with `?token=` (claims are signed with CLUSTER_SECRET; a string is used as
   * the token; null sends none), waits for connection_ack and returns the client with it.
   */
  async connect(claims: TokenClaims | string | null = {}, extra: { query?: string; headers?: Record<string, string> } = {}): Promise<ClusterClient> {
    const token = claims === null ? undefined : typeof claims === 'string' ? claims : signToken(claims);
    const params = [token === undefined ? '' : `token=${encodeURIComponent(token)}`, (extra.query ?? '').replace(/^[&?]/, '')].filter((p) => p.length > 0);
    const ws = new WebSocket(`${this.url}${params.length > 0 ? `?${params.join('&')}` : ''}`, { headers: extra.headers });
    const client = new TestClient(ws) as ClusterClient;
    this.clients.add(client);
    void client.closed.then(() => this.clients.delete(client));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused by ${this.name}: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    client.ack = await client.next('connection_ack', 10_000);
    client.instance = this;
    return client;
  }

  /** Resumes a session here with its reconnect token (no JWT unless given). */
  resume(reconnectToken: string, claims: TokenClaims | string | null = null): Promise<ClusterClient> {
    return this.connect(claims, { query: `reconnectToken=${encodeURIComponent(reconnectToken)}` });
  }

  /** An upgrade that must be refused: status, headers and JSON body. */
  refusal(query = '', headers: Record<string, string> = {}): Promise<Refusal> {
    return attemptRefusal(`${this.url}${query}`, headers);
  }

  /**
   * Resolves once `GET /health/ready` answers 200 (a 404, an app without the endpoint, counts
   * as ready). "listening on" is logged before the Redis connections are ready: on a busy
   * machine and a Redis Cluster, upgrades served in between are counted by the per-instance
   * fallbacks (rate limit, quotas), which a test of the cluster-wide counts must not race.
   */
  async ready(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.get('/health/ready').then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200 || status === 404) return;
      if (Date.now() > deadline) throw new Error(`instance ${this.name} not ready within ${timeoutMs} ms (last status ${status})`);
      await sleep(50);
    }
  }

  /** Plain HTTP GET on this instance: status and parsed body. */
  async get(path: string): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(`${this.httpUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body, headers: res.headers };
  }
}

export type ClusterClient = TestClient & { ack: any; instance: AppInstance };

export interface TokenClaims {
  sub?: string;
  tenantId?: string;
  name?: string;
  [claim: string]: unknown;
}

/** HS256 token with CLUSTER_SECRET; defaults: sub u1, tenantId t1, exp in 1 h. */
export function signToken(claims: TokenClaims = {}, options: jwt.SignOptions = {}): string {
  const payload: Record<string, unknown> = { sub: 'u1', tenantId: 't1', ...claims };
  for (const key of Object.keys(payload)) if (payload[key] === undefined) delete payload[key];
  const signOptions: jwt.SignOptions = { algorithm: 'HS256', ...options };
  if (payload.exp === undefined && signOptions.expiresIn === undefined) signOptions.expiresIn = 3600;
  return jwt.sign(payload, CLUSTER_SECRET, signOptions);
}

/** N instances on one Redis; `destroy()` in afterAll kills them all. */
export class InstanceGroup {
  private constructor(readonly instances: AppInstance[]) {}

  static async start(n: number, env: Record<string, string>, perInstance: (i: number) => Record<string, string> = () => ({})): Promise<InstanceGroup> {
    ensureBuilt();
    const group = new InstanceGroup([]);
    // One after the other: parallel Nest start-ups on a 2-core machine only slow each other down.
    try {
      for (let i = 0; i < n; i++) group.instances.push(await AppInstance.start(String.fromCharCode(65 + i), { ...env, ...perInstance(i) }));
      return group;
    } catch (err) {
      await group.destroy();
      throw err;
    }
  }

  at(i: number): AppInstance {
    return this.instances[i];
  }

  async destroy(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.destroy()));
  }

  /** Output of every instance (attach it to a failure message). */
  logs(): string {
    // Nest's start-up lines are noise here; keep warnings, errors and our own lines.
    // Warnings and errors (pino levels ≥ 40, or plain text), not the per-connection info lines.
    const interesting = (out: string) =>
      out
        .split('\n')
        .filter((l) => {
          const level = /^\{"level":(\d+)/.exec(l) ?? /^\{"level":"(\w+)"/.exec(l);
          if (!level) return l.trim() !== '' && !/InstanceLoader|RoutesResolver|RouterExplorer/.test(l);
          return Number(level[1]) >= 40 || ['warn', 'error', 'fatal'].includes(level[1]) || /purged|re-registered|listening on/.test(l);
        })
        .join('\n');
    return this.instances.map((i) => `--- ${i.name} (:${i.port}) ---\n${interesting(i.output).slice(-6000)}`).join('\n');
  }
}

/** A tenant id unique to this run, so tests never share keys even on an external Redis. */
export function uniqueTenant(label = 't'): string {
  return `${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Polls `check` until it returns true (async allowed), or fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition', everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The number of a room message's position `<epoch>.<n>`: n (consecutive within an epoch). */
export function positionNumber(pos: string): number {
  return Number(pos.slice(pos.indexOf('.') + 1));
}

/** Room channel of the Redis bus (see src/backends/redis/redis-connections.ts roomKeys()). */
export function busChannel(tenantId: string, canvasId: string, prefix = 'cm'): string {
  return `${prefix}:{canvas:${canvasId}@${encodeURIComponent(tenantId)}}:bus`;
}

/**
 * Waits for a frame matching `pred` in the client's inbox and removes it; other frames stay
 * in the inbox (unlike `next(type)`, which drops what it skips).
 */
export async function waitFor(client: TestClient, pred: (f: ServerFrame) => boolean, timeoutMs = 10_000, what = 'a matching frame'): Promise<ServerFrame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const idx = client.frames.findIndex(pred);
    if (idx >= 0) return client.frames.splice(idx, 1)[0];
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; inbox: ${JSON.stringify(client.frames).slice(0, 500)}`);
    await sleep(20);
  }
}

/** Removes and returns the frames of the inbox matching `pred` (others stay). */
/** The value of an unlabelled metric in a Prometheus exposition text (an instance's GET /metrics body). */
export function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

export function takeFrames(client: TestClient, pred: (f: ServerFrame) => boolean): ServerFrame[] {
  const taken: ServerFrame[] = [];
  for (let i = 0; i < client.frames.length;) {
    if (pred(client.frames[i])) taken.push(...client.frames.splice(i, 1));
    else i++;
  }
  return taken;
}

/** A Redis of `kind` plus `n` instances on it; `destroy()` stops everything (call it in afterAll). */
export interface Deployment {
  redis: RedisTarget;
  /** REDIS_KEY_PREFIX of the instances ('cm' on a Redis of our own). */
  prefix: string;
  group: InstanceGroup;
  instances: AppInstance[];
  destroy(): Promise<void>;
}

/**
 * Starts Redis (`external: true` lets a given REDIS_URL / REDIS_CLUSTER_NODES serve a
 * non-destructive test) and `n` instances with `env`. Cleans up what started if a step fails.
 */
export async function startDeployment(kind: RedisKind, n: number, env: Record<string, string> = {}, opts: { external?: boolean } = {}): Promise<Deployment> {
  const redis = opts.external ? await useExternalOrStart(kind) : await startRedis(kind);
  // On a Redis shared with others, every key and channel of this run gets a prefix of its own
  // (leases, rate-limit counters and rooms then never mix with another run's).
  const prefix = redis.owned ? 'cm' : `cmtest${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  let group: InstanceGroup;
  try {
    group = await InstanceGroup.start(n, { ...redis.env, REDIS_KEY_PREFIX: prefix, ...env });
  } catch (err) {
    await redis.destroy();
    throw err;
  }
  try {
    await Promise.all(group.instances.map((instance) => instance.ready()));
  } catch (err) {
    await group.destroy();
    await redis.destroy();
    throw err;
  }
  return {
    redis,
    prefix,
    group,
    instances: group.instances,
    destroy: async () => {
      await group.destroy().catch(() => undefined);
      // A shared Redis keeps nothing of this run (only keys under this run's own prefix).
      if (!redis.owned) {
        await redis
          .onEveryNode(['--scan', '--pattern', `${prefix}:*`])
          .then(async (outs) => {
            const keys = outs
              .join('\n')
              .split('\n')
              .filter((k) => k.startsWith(`${prefix}:`));
            for (const key of keys) await redis.onEveryNode(['DEL', key]).catch(() => undefined);
          })
          .catch(() => undefined);
      }
      await redis.destroy();
    },
  };
}

/**
 * Registers an afterEach that prints the instances' output when a test failed (the instances
 * log what they purged, re-registered, or refused). Call at describe level.
 */
export function dumpLogsOnFailure(deployment: () => Deployment | undefined): void {
  afterEach((ctx) => {
    const d = deployment();
    if (d && ctx.task.result?.state === 'fail') console.error(`instance logs of "${ctx.task.name}":\n${d.group.logs()}`);
  });
}
