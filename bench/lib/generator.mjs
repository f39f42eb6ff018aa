// Run the load generator for one (scenario, target) in its own child process
// and serve its sampling requests. The generator decides *when* a measured
// window starts and ends (only it knows when the load is in steady state); it
// asks the harness to sample the server at those instants:
//   gen -> harness : { type:'ready' }                      (listener installed)
//   harness -> gen : { type:'run', job }
//   gen -> harness : { type:'req', id, op:'cpu'|'mem'|'signal', name, index?, signal? }
//                    ('signal': sample CPU, then send `signal` to instance
//                    `index` of a group; its exit is then no crash: storm)
//   harness -> gen : { type:'res', id, value }
//   gen -> harness : { type:'req', id, op:'turn'|'pass' }   (interleaved runs: lib/turns.mjs;
//                    'turn' is answered when this column holds the turn, at once when the
//                    run has no turns)
//   gen -> harness : { type:'result', result } | { type:'error', error }
// A measured window may come in slices (cpu samples 'start.0', 'end.0', 'start.1', ...):
// the harness sums each slice's deltas into one 'start' (zeros) and 'end' pair, so the
// summaries read one window whatever the number of slices.
// A server handle may be a group (cluster scenario, lib/cluster.mjs): it then
// brings its own sampleCpu() (all instances + Redis at one instant) and
// `children` (any of them exiting fails the run).
// The child is spawned before the server starts so both start-ups overlap;
// the job is sent only after 'ready' (ESM loading is async, so a message sent
// earlier could arrive before the child listens for it).
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { machineBusyMs, procCpuMs, track } from './proc.mjs';

/**
 * One CPU sample of the server (or group) plus what the machine as a whole and
 * this harness process used so far: summarize.mjs derives from them the CPU
 * other processes took during a window.
 */
function cpuSample(server) {
  const u = process.cpuUsage();
  return {
    ...(server.sampleCpu ? server.sampleCpu() : { cpuMs: procCpuMs(server.pid) }),
    machineMs: machineBusyMs(),
    harnessMs: (u.user + u.system) / 1000,
    t: performance.now(),
  };
}

const GEN_ENTRY = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'load', 'main.mjs');

export function spawnGenerator() {
  const gen = track(fork(GEN_ENTRY, [], {
    execArgv: ['--max-old-space-size=2048'],
    // Generator output goes to stderr: stdout carries only the report.
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  }));
  gen.stdout.pipe(process.stderr);
  const ready = new Promise((resolve) => {
    const onMsg = (m) => { if (m?.type === 'ready') { gen.off('message', onMsg); resolve(); } };
    gen.on('message', onMsg);
  });
  const kill = () => { if (gen.exitCode === null && gen.signalCode === null) gen.kill('SIGKILL'); };
  return { gen, ready, kill, run: (job, server, opts) => runJob(gen, ready, job, server, opts) };
}

const SLICE_MARK = /^(start|end)\.(\d+)$/;
const minus = (b, a) => (typeof b === 'number' ? b - a : Array.isArray(b) ? b.map((v, i) => v - a[i]) : undefined);
const plus = (x, y) => (x === undefined ? y : Array.isArray(y) ? x.map((v, i) => v + y[i]) : x + y);

/** The slices' samples summed into one 'start'/'end' pair (every numeric field, arrays per element). */
export function mergeSlices(samples) {
  const slices = [...new Set(Object.keys(samples).map((k) => SLICE_MARK.exec(k)?.[2]).filter((i) => i !== undefined))];
  if (slices.length === 0) return samples;
  const end = {};
  for (const i of slices) {
    const a = samples[`start.${i}`];
    const b = samples[`end.${i}`];
    if (!a || !b) throw new Error(`slice ${i}: missing cpu sample ${a ? 'end' : 'start'}.${i}`);
    for (const k of Object.keys(b)) {
      const d = minus(b[k], a[k]);
      if (d !== undefined) end[k] = plus(end[k], d);
    }
  }
  const start = Object.fromEntries(Object.entries(end).map(([k, v]) => [k, Array.isArray(v) ? v.map(() => 0) : 0]));
  const rest = Object.fromEntries(Object.entries(samples).filter(([k]) => !SLICE_MARK.test(k)));
  return { ...rest, start, end };
}

/**
 * @param job {scenario, protocol, port, secret, params}
 * @param server handle from startServer()
 * @param turns optional lib/turns.mjs Turns shared by the columns of an interleaved run, and
 *   `column` this job's name in it
 * @returns {Promise<{result: object, samples: Record<string, object>}>}
 */
function runJob(gen, ready, job, server, { timeoutMs, turns = null, column = null }) {
  return new Promise((resolve, reject) => {
    const samples = {};
    const watched = server.children ?? [server.child];
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const [c, f] of onServerExit) c.off('exit', f);
      turns?.leave(column);
      // The generator is done (or failed): never leave it running.
      if (gen.exitCode === null && gen.signalCode === null) gen.kill('SIGKILL');
      if (err) reject(err); else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`generator timed out after ${timeoutMs} ms`)), timeoutMs);
    // A server process exiting is a crash, unless the scenario stopped it on purpose (signal op).
    const onServerExit = new Map(watched.map((c) => [c, (code, signal) => {
      if (!server.expected?.has(c)) finish(new Error(`server crashed during ${job.scenario} (code ${code}, signal ${signal}):\n${server.logTail()}`));
    }]));
    for (const [c, f] of onServerExit) c.once('exit', f);

    gen.on('message', async (m) => {
      try {
        if (m.type === 'req') {
          let value;
          if (m.op === 'turn') {
            await turns?.take(column);
            if (!settled) gen.send({ type: 'res', id: m.id, value: null });
            return;
          }
          if (m.op === 'pass') {
            turns?.pass(column);
            gen.send({ type: 'res', id: m.id, value: null });
            return;
          }
          if (m.op === 'cpu') value = cpuSample(server);
          else if (m.op === 'mem') value = await server.mem();
          else if (m.op === 'signal') {
            value = cpuSample(server);
            server.signal(m.index, m.signal);
          }
          else throw new Error(`unknown op ${m.op}`);
          samples[m.name] = value;
          gen.send({ type: 'res', id: m.id, value });
        } else if (m.type === 'result') finish(null, { result: m.result, samples: mergeSlices(samples) });
        else if (m.type === 'error') finish(new Error(`generator: ${m.error}`));
      } catch (err) { finish(err); }
    });
    // A result message can still be in the IPC pipe when 'exit' fires: give it
    // a moment to arrive before calling the exit a failure.
    const onGenExit = (code, signal) => setTimeout(
      () => finish(new Error(`generator exited early (code ${code}, signal ${signal})`)), 500);
    if (gen.exitCode !== null || gen.signalCode !== null) onGenExit(gen.exitCode, gen.signalCode);
    else gen.once('exit', onGenExit);
    ready.then(() => { if (!settled) gen.send({ type: 'run', job }); });
  });
}
