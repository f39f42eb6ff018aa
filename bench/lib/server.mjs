// Start one server fresh on a free loopback port with the memory probe
// preloaded and an IPC channel, wait until it accepts TCP, and stop it.
import { createWriteStream } from 'node:fs';
import { fork } from 'node:child_process';
import net from 'node:net';
import { PROBE, REPO_DIR } from './targets.mjs';
import { track } from './proc.mjs';

/** Ask the kernel for a free port on 127.0.0.1 (tiny race accepted). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tcpOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @returns {Promise<{pid, port, child, mem(): Promise<object>, stop(): Promise<void>, logTail(): string, exited: () => object|null}>}
 */
export async function startServer(target, { secret, readyTimeoutMs = 30_000 }) {
  const port = await freePort();
  const child = track(fork(target.entry, [], {
    cwd: REPO_DIR,
    // BENCH_NODE_ARGS adds flags to every server, e.g. to profile the hot paths:
    //   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node bench/run.mjs --only=fanout-max
    // (a profiled run's figures are not comparable with unprofiled ones).
    execArgv: ['--expose-gc', '--import', PROBE, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    env: { ...process.env, ...target.env(), PORT: String(port), JWT_SECRET: secret },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  }));
  // Keep only a tail of the server's output: enough to explain a crash, never
  // an unbounded buffer (a chatty logger at 50k msgs/s would eat memory).
  const tail = [];
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) if (line) tail.push(line);
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // BENCH_SERVER_LOG=<file>: the server's whole output also goes there (e.g. with
  // BENCH_NODE_ARGS=--trace-deopt); the tail above stays what a crash report shows.
  if (process.env.BENCH_SERVER_LOG) {
    const out = createWriteStream(process.env.BENCH_SERVER_LOG, { flags: 'a' });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
  }
  let exitInfo = null;
  child.once('exit', (code, signal) => { exitInfo = { code, signal }; });

  const deadline = Date.now() + readyTimeoutMs;
  while (!(await tcpOpen(port))) {
    if (exitInfo) throw new Error(`server exited before listening (${JSON.stringify(exitInfo)}):\n${tail.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not listening on 127.0.0.1:${port} after ${readyTimeoutMs} ms:\n${tail.join('\n')}`);
    }
    await sleep(50);
  }

  let memWaiter = null;
  child.on('message', (m) => {
    if (m && m.probe === 'mem' && memWaiter) { const w = memWaiter; memWaiter = null; w(m.usage); }
  });

  return {
    pid: child.pid,
    port,
    child,
    exited: () => exitInfo,
    logTail: () => tail.join('\n'),
    /** Forced-GC memoryUsage() from inside the server (via server-probe.mjs). */
    mem(timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { memWaiter = null; reject(new Error('mem probe timeout (is server-probe preloaded?)')); }, timeoutMs);
        memWaiter = (u) => { clearTimeout(t); resolve(u); };
        child.send({ cmd: 'mem' });
      });
    },
    /** SIGTERM, then SIGKILL after a grace period: a slow shutdown must not stall the run. */
    async stop(graceMs = 2000) {
      if (exitInfo) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(t);
    },
  };
}
