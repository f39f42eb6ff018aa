// The load generator as seen from the coordinator: W worker processes (load-worker.mjs), the
// clients dealt round-robin over them, one request/reply IPC channel each. It also watches the
// generator itself: CPU of every worker from /proc every second (a worker near 100 % of a core
// is saturated: its clients read and send late, and timings it reports grow), and each worker's
// event-loop delay.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { procCpuMs, track } from '../../bench/lib/proc.mjs';

const WORKER = fileURLToPath(new URL('./load-worker.mjs', import.meta.url));

/** Sums numbers, concatenates arrays (one key of two workers' status objects). */
const merge = (a, b) => (Array.isArray(a) || Array.isArray(b) ? [...(a ?? []), ...(b ?? [])] : (a ?? 0) + (b ?? 0));

class Worker {
  constructor(index) {
    this.index = index;
    this.nextId = 1;
    this.waiters = new Map();
    this.child = track(
      fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=2048'] }),
    );
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code, signal) => {
        const err = new Error(`load worker ${index} exited (${code ?? signal})`);
        reject(err);
        for (const w of this.waiters.values()) w.reject(err);
        this.waiters.clear();
      });
      this.child.on('message', (m) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'error') console.error(`[chaos] worker ${index}: ${m.error}`);
        else if (m.type === 'started') this.waiters.get('started')?.resolve(m);
        else this.waiters.get(m.id)?.resolve(m);
        if (m.id !== undefined) this.waiters.delete(m.id);
      });
    });
  }

  /** Sends `msg` and resolves with the reply carrying the same id. */
  ask(msg, timeoutMs = 30_000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`load worker ${this.index}: no reply to ${msg.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, {
        resolve: (v) => (clearTimeout(t), resolve(v)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.child.send({ ...msg, id });
    });
  }

  async start(config, timeoutMs) {
    await this.ready;
    const started = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`load worker ${this.index}: clients not connected and joined within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set('started', { resolve: (v) => (clearTimeout(t), resolve(v)), reject: (e) => (clearTimeout(t), reject(e)) });
    });
    this.child.send({ type: 'start', config });
    await started;
  }
}

/**
 * Starts the workers, connects every client through `url` and joins its room. Resolves once all
 * are joined. Clients: index i (user u<i>) in room `chaos-<i mod rooms>`.
 */
export async function startLoad({ url, secret, tenant, clients, rooms, hz, workers, maxStrokes, sdkOptions, sdkEntry, probeInstances = [] }) {
  const roomOf = (i) => `chaos-${i % rooms}`;
  const roomMembers = {};
  for (let i = 0; i < clients; i++) (roomMembers[roomOf(i)] ??= []).push(`u${i}`);
  // Presence probes (presence-check.mjs): one per room per instance, straight to its port, in worker 0.
  const probes = Object.keys(roomMembers).flatMap((room) =>
    probeInstances.map((inst) => ({ userId: `p-${room}-${inst.name}`, room, instance: inst.name, url: `ws://127.0.0.1:${inst.port}/ws` })),
  );
  const closedProbes = new Set();
  /** Who must be listed in each room now: the load's users and the probes not closed. */
  const expected = () =>
    Object.fromEntries(
      Object.entries(roomMembers).map(([room, users]) => [
        room,
        [...users, ...probes.filter((p) => p.room === room && !closedProbes.has(p.userId)).map((p) => p.userId)],
      ]),
    );
  const pool = Array.from({ length: workers }, (_, w) => new Worker(w));
  const owner = (i) => pool[i % workers];
  const cpu = pool.map(() => ({ samples: [] }));
  let sampler;
  const handle = {
    roomMembers,
    roomOf,
    workers: pool,
    /** Turns the strokes on or off in every worker. */
    setSending(on) {
      for (const w of pool) w.child.send({ type: 'send', on });
    },
    /** Destroys the TCP connection of these clients; resolves with those that were live then. */
    async drop(indices) {
      const byWorker = new Map();
      for (const i of indices) byWorker.set(owner(i), [...(byWorker.get(owner(i)) ?? []), i]);
      const replies = await Promise.all([...byWorker].map(([w, list]) => w.ask({ type: 'drop', indices: list })));
      return { indices: replies.flatMap((r) => r.indices), at: Math.min(...replies.map((r) => r.at)) };
    },
    /** Closes the probes of a killed instance for good; resolves with their user ids. */
    async closeProbes(instance) {
      const { userIds } = await pool[0].ask({ type: 'close-probes', instance });
      for (const u of userIds) closedProbes.add(u);
      return userIds;
    },
    /** A fresh client's view of every room (the server's presence_state). */
    async observe() {
      return (await pool[0].ask({ type: 'observe', rooms: Object.keys(roomMembers) })).rooms;
    },
    /** Sum of the workers' live figures (presence against who must be listed now). */
    async status() {
      const want = expected();
      const all = await Promise.all(pool.map((w) => w.ask({ type: 'status', expected: want })));
      const out = {};
      for (const { status } of all)
        for (const [k, v] of Object.entries(status))
          out[k] =
            typeof v === 'boolean'
              ? Boolean(out[k]) || v
              : typeof v === 'string'
                ? out[k] || v
                : typeof v === 'object'
                  ? Object.fromEntries([...new Set([...Object.keys(out[k] ?? {}), ...Object.keys(v)])].map((x) => [x, merge(out[k]?.[x], v[x])]))
                  : (out[k] ?? 0) + v;
      return out;
    },
    async report() {
      const all = await Promise.all(pool.map((w) => w.ask({ type: 'report' }, 120_000)));
      return {
        clients: all.flatMap((r) => r.report.clients).sort((a, b) => a.idx - b.idx),
        loopDelayP99Ms: all.map((r) => r.report.loopDelayP99Ms),
        loopDelayMaxMs: all.map((r) => r.report.loopDelayMaxMs),
      };
    },
    /** Starts sampling each worker's CPU every second. */
    sampleCpu() {
      const take = () => {
        const t = Date.now();
        pool.forEach((w, i) => {
          try {
            cpu[i].samples.push({ t, ms: procCpuMs(w.child.pid) });
          } catch {
            // exited
          }
        });
      };
      take();
      sampler = setInterval(take, 1000);
    },
    /**
     * Each worker's CPU as a fraction of one core: over the whole load phase, and its worst 5 s
     * window. A worker above 0.9 of a core in any window is called saturated.
     */
    cpuFigures() {
      clearInterval(sampler);
      return cpu.map(({ samples }) => {
        if (samples.length < 2) return { mean: NaN, peak5s: NaN, saturated: false };
        const first = samples[0];
        const last = samples.at(-1);
        let peak = 0;
        for (let i = 0; i < samples.length; i++) {
          const j = samples.findIndex((s) => s.t >= samples[i].t + 5000);
          if (j < 0) break;
          peak = Math.max(peak, (samples[j].ms - samples[i].ms) / (samples[j].t - samples[i].t));
        }
        const mean = (last.ms - first.ms) / (last.t - first.t);
        return { mean, peak5s: peak, saturated: peak > 0.9 };
      });
    },
    async stop() {
      clearInterval(sampler);
      await Promise.all(
        pool.map(async (w) => {
          if (w.child.exitCode !== null || w.child.signalCode !== null) return;
          const gone = new Promise((r) => w.child.once('exit', r));
          await w.ask({ type: 'exit' }, 10_000).catch(() => w.child.kill('SIGKILL'));
          const t = setTimeout(() => w.child.kill('SIGKILL'), 5000);
          await gone;
          clearTimeout(t);
        }),
      );
    },
  };
  try {
    const specs = pool.map(() => []);
    for (let i = 0; i < clients; i++) specs[i % workers].push({ idx: i, room: roomOf(i) });
    await Promise.all(
      pool.map((w, k) =>
        w.start(
          { url, secret, tenant, hz, maxStrokes, sdkOptions, sdkEntry, clients: specs[k], roomMembers: expected(), probes: k === 0 ? probes : [] },
          60_000 + clients * 200,
        ),
      ),
    );
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
