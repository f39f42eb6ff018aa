// Shared pieces of the soak scripts: start the built demo app as a child with the probes,
// read its memory and handles, mint tokens, parse --flags, print Markdown.
import { fork } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = process.env.SOAK_ENTRY ?? resolve(REPO, 'dist/main.js');
const MEM_PROBE = resolve(REPO, 'bench/server-probe.mjs');
const HANDLES_PROBE = resolve(REPO, 'scripts/soak/handles-probe.mjs');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** `--name=value` flags with numeric defaults; unknown flags are an error. */
export function flags(defaults) {
  const out = { ...defaults };
  for (const arg of process.argv.slice(2)) {
    const m = /^--([\w-]+)=(.*)$/.exec(arg);
    if (!m || !(m[1] in defaults)) {
      console.error(`unknown flag ${arg}; known: ${Object.keys(defaults).map((k) => `--${k}=${defaults[k]}`).join(' ')}`);
      process.exit(2);
    }
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/** HS256 JWT, minted here so the scripts need no dependency but `ws`. */
export function sign(secret, claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 6 * 3600, ...claims })}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** A free port on 127.0.0.1 (tiny race accepted). */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

const tcpOpen = (port) =>
  new Promise((resolveOpen) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolveOpen(true)));
    s.once('error', () => resolveOpen(false));
  });

/**
 * Starts `node dist/main.js` on a free 127.0.0.1 port with the memory and handle probes
 * preloaded and an IPC channel; ready when the port accepts TCP. The server logs at its
 * default level (as in production); only a tail of its output is kept. Returns { url, port,
 * token(), mem(), handles(), stop(), tail(), exited() }.
 */
export async function startServer(env) {
  if (!existsSync(ENTRY)) throw new Error('dist/main.js is missing: run `npm run build` first');
  if (!existsSync(MEM_PROBE)) throw new Error('bench/server-probe.mjs is missing');
  const secret = randomBytes(32).toString('hex');
  const port = await freePort();
  const child = fork(ENTRY, [], {
    cwd: REPO,
    execArgv: ['--expose-gc', '--import', MEM_PROBE, '--import', HANDLES_PROBE],
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: secret, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines = [];
  let exited = null;
  child.once('exit', (code, signal) => (exited = { code, signal }));
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(line.slice(0, 500));
    if (lines.length > 50) lines.splice(0, lines.length - 50);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const deadline = Date.now() + 30_000;
  while (!(await tcpOpen(port))) {
    if (exited) throw new Error(`server exited before listening (${JSON.stringify(exited)}):\n${lines.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not listening after 30 s:\n${lines.join('\n')}`);
    }
    await sleep(100);
  }
  const ask = (cmd, probe) =>
    new Promise((resolveMsg, reject) => {
      const timer = setTimeout(() => reject(new Error(`probe ${cmd} timed out (server busy for 30 s?)`)), 30_000);
      const onMsg = (msg) => {
        if (msg?.probe !== probe) return;
        clearTimeout(timer);
        child.off('message', onMsg);
        resolveMsg(msg);
      };
      child.on('message', onMsg);
      child.send({ cmd });
    });
  return {
    port,
    pid: child.pid,
    /** CPU seconds (user + system, all threads) the server has used so far, from /proc (Linux). */
    cpuSeconds() {
      try {
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (CLK_TCK 100)
      } catch {
        return NaN;
      }
    },
    url: `ws://127.0.0.1:${port}/ws`,
    secret,
    token: (claims) => sign(secret, claims),
    /** process.memoryUsage() of the server after two full GCs. */
    mem: async () => (await ask('mem', 'mem')).usage,
    handles: () => ask('handles', 'handles'),
    exited: () => exited,
    tail: () => lines.join('\n'),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const deadline = Date.now() + 15_000;
      while (!exited && Date.now() < deadline) await sleep(50);
      if (!exited) child.kill('SIGKILL');
    },
  };
}
