import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
export { freePort };

/**
 * Real Redis processes for the multi-instance e2e tests: a single `redis-server` and a
 * 3-master Redis Cluster (`redis-cli --cluster create`), on ephemeral 127.0.0.1 ports, so the
 * fault tests can stop and restart them. Nothing here ever touches a Redis the tests did not
 * start, except `useExternalOrStart()` for non-destructive tests when `REDIS_URL` is given.
 */

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago (the kernel picks it; the listener is closed again). */

/** Runs `redis-cli -h 127.0.0.1 -p <port> <args…>` and resolves with its stdout. */
export function redisCli(port: number, args: string[], host = '127.0.0.1', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, ['-h', host, '-p', String(port), ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli -p ${port} ${args.join(' ')} failed: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Runs `redis-cli -u <url> <args…>` (an external server given by REDIS_URL). */
export function redisCliUrl(url: string, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, ['-u', url, '--no-auth-warning', ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli -u … ${args.join(' ')} failed: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

async function ping(port: number, host = '127.0.0.1'): Promise<boolean> {
  try {
    return (await redisCli(port, ['PING'], host, 1500)).trim() === 'PONG';
  } catch {
    return false;
  }
}

/** Live redis-server processes of this test process, killed on exit whatever happens. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** One `redis-server` process the test owns: start, stop (SIGTERM or SIGKILL), restart on the same port. */
export class RedisServer {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** stdout+stderr of the current and previous runs (for failure messages). */
  output = '';

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[],
    readonly dir: string,
  ) {}

  /** Starts a server on a free port (or `port`) with no persistence; `extraArgs` e.g. cluster flags. */
  static async start(opts: { port?: number; extraArgs?: (port: number, dir: string) => string[] } = {}): Promise<RedisServer> {
    const port = opts.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), `cm-redis-${port}-`));
    const server = new RedisServer(port, opts.extraArgs?.(port, dir) ?? [], dir);
    await server.spawn();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private async spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
      '--dir',
      this.dir,
      ...this.extraArgs,
    ];
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    live.add(proc);
    proc.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) =>
      proc.once('exit', () => {
        live.delete(proc);
        resolve();
      }),
    );
    proc.once('error', (err) => (this.output += `spawn error: ${err.message}\n`));
    const deadline = Date.now() + 10_000;
    while (!(await ping(this.port))) {
      if (!this.running) throw new Error(`redis-server on ${this.port} exited at start:\n${this.output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer PING:\n${this.output.slice(-2000)}`);
      await sleep(50);
    }
  }

  /** Stops the server (SIGTERM by default; SIGKILL for a crash) and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.proc!.kill(signal);
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Starts the server again on the same port (an outage ends). Data is gone: no persistence. */
  async restart(): Promise<void> {
    await this.stop();
    await this.spawn();
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A 3-master (no replica) Redis Cluster of processes the test owns. */
export class RedisClusterHarness {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(masters = 3): Promise<RedisClusterHarness> {
    const nodes: RedisServer[] = [];
    const harness = new RedisClusterHarness(nodes);
    try {
      for (let i = 0; i < masters; i++) {
        nodes.push(
          await RedisServer.start({
            extraArgs: (port, dir) => ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'],
          }),
        );
      }
      const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
      await new Promise<void>((resolve, reject) => {
        execFile(REDIS_CLI, ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(),
        );
      });
      await harness.waitUntilOk();
      return harness;
    } catch (err) {
      await harness.destroy();
      throw err;
    }
  }

  /** Seeds for `REDIS_CLUSTER_NODES`. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /** Waits until every node reports cluster_state:ok and knows every node. */
  async waitUntilOk(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(this.nodes.map((n) => redisCli(n.port, ['CLUSTER', 'INFO']).catch(() => '')));
      const ok = infos.every((i) => /cluster_state:ok/.test(i) && new RegExp(`cluster_known_nodes:${this.nodes.length}\\b`).test(i));
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`cluster not ok after ${timeoutMs} ms:\n${infos.join('\n---\n')}`);
      await sleep(100);
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.destroy()));
  }
}

export type RedisKind = 'single' | 'cluster';

/**
 * The Redis a test file runs against, as the app instances see it (`env`) and as the test
 * inspects it (`cli`, `sumOverNodes`). `owned` is false for an external `REDIS_URL`.
 */
export interface RedisTarget {
  kind: RedisKind;
  owned: boolean;
  /** REDIS_URL or REDIS_CLUSTER_NODES for the app instances. */
  env: Record<string, string>;
  /** host:port of every (master) node. */
  nodes: Array<{ host: string; port: number }>;
  /** The single server (only for an owned single Redis): stop/restart it for outage tests. */
  server?: RedisServer;
  cluster?: RedisClusterHarness;
  /** Runs a redis-cli command on every node and returns the outputs. */
  onEveryNode(args: string[]): Promise<string[]>;
  destroy(): Promise<void>;
}

/** Starts a Redis the test owns (single server or 3-master cluster). */
export async function startRedis(kind: RedisKind): Promise<RedisTarget> {
  if (kind === 'single') {
    const server = await RedisServer.start();
    const nodes = [{ host: '127.0.0.1', port: server.port }];
    return {
      kind,
      owned: true,
      env: { REDIS_URL: server.url },
      nodes,
      server,
      onEveryNode: (args) => Promise.all(nodes.map((n) => redisCli(n.port, args, n.host))),
      destroy: () => server.destroy(),
    };
  }
  const cluster = await RedisClusterHarness.start(3);
  const nodes = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  return {
    kind,
    owned: true,
    env: { REDIS_CLUSTER_NODES: cluster.seeds },
    nodes,
    cluster,
    onEveryNode: (args) => Promise.all(nodes.map((n) => redisCli(n.port, args, n.host))),
    destroy: () => cluster.destroy(),
  };
}

/**
 * For non-destructive tests: a single Redis given by `REDIS_URL` (or a cluster given by
 * `REDIS_CLUSTER_NODES`) when set, otherwise one this test starts. Tests that use an external
 * server must use keys of their own (a random tenant) and never stop it.
 */
export async function useExternalOrStart(kind: RedisKind): Promise<RedisTarget> {
  const external = kind === 'single' ? process.env.REDIS_URL : process.env.REDIS_CLUSTER_NODES;
  if (!external) return startRedis(kind);
  const nodes =
    kind === 'single'
      ? [
          (() => {
            const u = new URL(external);
            return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
          })(),
        ]
      : external.split(',').map((hp) => {
          const [host, port] = hp.trim().split(':');
          return { host, port: Number(port) };
        });
  return {
    kind,
    owned: false,
    env: kind === 'single' ? { REDIS_URL: external } : { REDIS_CLUSTER_NODES: external },
    nodes,
    // `-u` keeps the URL's credentials and database for a single external server.
    onEveryNode: (args) => (kind === 'single' ? Promise.all([redisCliUrl(external, args)]) : Promise.all(nodes.map((n) => redisCli(n.port, args, n.host)))),
    destroy: async () => undefined,
  };
}

/** Number of subscribers of a sharded channel, summed over all nodes (it lives on its slot's node). */
export async function shardSubscribers(target: RedisTarget, channel: string): Promise<number> {
  const outs = await target.onEveryNode(['PUBSUB', 'SHARDNUMSUB', channel]);
  let total = 0;
  for (const out of outs) {
    const lines = out.trim().split('\n');
    total += Number(lines[1] ?? 0);
  }
  return total;
}
