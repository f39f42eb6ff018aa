// The demo app (`node dist/main.js`) as N child processes behind nginx. Each instance keeps its
// port for the whole run (nginx's upstream list is fixed), so a restart after SIGTERM or
// SIGKILL comes back where nginx expects it. The environment is the one
// test/support/instance-harness.ts gives its instances (DEFAULT_INSTANCE_ENV), plus the proxy
// and load settings of this scenario.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { REPO_DIR } from '../../bench/lib/targets.mjs';
import { freePort } from '../../bench/lib/server.mjs';
import { procCpuMs, track } from '../../bench/lib/proc.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Preloaded into every instance: exit when the harness's end of stdin closes (no orphans if the harness is killed). */
const PARENT_WATCHDOG = `data:text/javascript,${encodeURIComponent("process.stdin.on('end',()=>process.exit(70));process.stdin.on('error',()=>process.exit(70));process.stdin.resume();process.stdin.unref?.();")}`;

/** Variables of the harness's environment that must not leak into an instance. */
const SCRUBBED = /^(REDIS_.*|WS_.*|JWT_.*|PORT|HOST|LOG_LEVEL|DEMO_MODE|METRICS_.*|HEALTH_.*)$/;

/**
 * Environment of every instance. As instance-harness.ts, except: the upgrade and message rate
 * limits are per IP and every client is 127.0.0.1 behind nginx, so they are lifted (a rolling
 * restart reconnects a third of the clients at once); the heartbeat is the default 30 s (a busy
 * 2-core machine must not turn late pongs into drops the scenario did not ask for).
 */
export function instanceEnv({ secret, redisEnv, leaseMs, extra = {} }) {
  return {
    HOST: '127.0.0.1',
    JWT_SECRET: secret,
    WS_TRUST_PROXY: '1',
    WS_INSTANCE_LEASE_MS: String(leaseMs),
    WS_HEARTBEAT_INTERVAL_MS: '30000',
    WS_RATE_LIMIT_POINTS: '1000000',
    WS_MESSAGE_RATE_LIMIT: '100000',
    WS_MAX_CONNECTIONS: '5000',
    WS_DRAIN_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'warn',
    NO_COLOR: '1',
    ...redisEnv,
    ...extra,
  };
}

/** One instance on a fixed port: start, signal, wait for exit, restart. */
export class Instance {
  constructor(name, port, env, main) {
    this.name = name;
    this.main = main;
    this.port = port;
    this.env = env;
    this.child = undefined;
    this.exitInfo = Promise.resolve(null);
    /** Tail of the output of every run (warnings and errors only at LOG_LEVEL=warn). */
    this.tail = [];
    /** CPU ms of the runs that ended, plus the current one's (see cpuMs). */
    this.pastCpuMs = 0;
    this.lastCpuMs = 0;
    this.starts = 0;
    /** Exits nobody asked for (a crash): { at, code, signal }. */
    this.crashes = [];
    this.stopping = false;
  }

  /** @param main the app's entry (dist/main.js, or a snapshot's: dist-snapshot.mjs) */
  static async create(name, env, main) {
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    return new Instance(name, await freePort(), env, main);
  }

  get alive() {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid() {
    return this.child?.pid;
  }

  /** Spawns the process and resolves once GET /health/ready answers 200 (its Redis is connected). */
  async start(timeoutMs = 60_000) {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SCRUBBED.test(k)));
    const child = track(
      spawn(process.execPath, ['--import', PARENT_WATCHDOG, this.main], {
        cwd: REPO_DIR,
        env: { ...base, ...this.env, PORT: String(this.port) },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    this.child = child;
    this.stopping = false;
    this.starts++;
    this.lastCpuMs = 0;
    const keep = (d) => {
      for (const line of d.toString().split('\n')) if (line.trim()) this.tail.push(`[${this.name}#${this.starts}] ${line.slice(0, 400)}`);
      if (this.tail.length > 60) this.tail.splice(0, this.tail.length - 60);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.exitInfo = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.pastCpuMs += this.lastCpuMs;
        this.lastCpuMs = 0;
        const info = { code, signal, at: Date.now() };
        if (!this.stopping) this.crashes.push(info);
        resolve(info);
      }),
    );
    await this.ready(timeoutMs);
  }

  /** Polls GET /health/ready until 200. */
  async ready(timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`instance ${this.name} exited while starting:\n${this.tail.join('\n')}`);
      const status = await fetch(`http://127.0.0.1:${this.port}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) throw new Error(`instance ${this.name} not ready within ${timeoutMs} ms (last status ${status}):\n${this.tail.join('\n')}`);
      await sleep(50);
    }
  }

  /** Sends `signal` and resolves with the exit ({code, signal, at}); SIGKILL after `timeoutMs`. */
  async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
    if (!this.alive) return this.exitInfo;
    this.sampleCpu();
    this.stopping = true;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    const info = await this.exitInfo;
    clearTimeout(timer);
    return info;
  }

  /** CPU ms of every run of this instance so far (read from /proc while it runs). */
  sampleCpu() {
    if (this.alive) {
      try {
        this.lastCpuMs = procCpuMs(this.child.pid);
      } catch {
        // exited between the check and the read: its last reading stands
      }
    }
    return this.pastCpuMs + this.lastCpuMs;
  }
}

/** Starts `n` instances (A, B, C…) one after the other (parallel Nest start-ups on 2 cores only slow each other). */
export async function startInstances(n, env, main) {
  const instances = [];
  try {
    for (let i = 0; i < n; i++) {
      const inst = await Instance.create(String.fromCharCode(65 + i), env, main);
      instances.push(inst);
      await inst.start();
    }
    return instances;
  } catch (err) {
    await Promise.all(instances.map((i) => i.stop('SIGKILL')));
    throw err;
  }
}
