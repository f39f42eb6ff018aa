// Generator side of the IPC link to the harness (see bench/lib/generator.mjs).
import { sleep, waitFor } from './util.mjs';

let nextId = 1;
const pending = new Map();

process.on('message', (m) => {
  if (m && m.type === 'res' && pending.has(m.id)) {
    const resolve = pending.get(m.id);
    pending.delete(m.id);
    resolve(m.value);
  }
});

/**
 * Ask the harness to sample the server ('cpu' from /proc, 'mem' via the probe,
 * 'signal': cpu, then send extra.signal to group instance extra.index) and wait.
 */
export function sampleServer(op, name, extra = {}) {
  return new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    process.send({ type: 'req', id, op, name, ...extra });
  });
}

/**
 * Mark a measured-window boundary: samples server CPU at the harness and this
 * process's own CPU + clock at (almost) the same instant.
 */
export async function mark(name) {
  await sampleServer('cpu', name);
  return { t: performance.now(), cpu: process.cpuUsage() };
}

/** Generator CPU share of one core between two marks, and wall ms. */
export function window(a, b) {
  const wallMs = b.t - a.t;
  const cpuMs = (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1000;
  return { wallMs, genCpuMs: cpuMs, genCpuShare: wallMs > 0 ? cpuMs / wallMs : null };
}

/**
 * The measured phase of a loop that is already running: `warmupSec`, then `durationSec`
 * between two marks. `measure(true)` comes right before the first mark and `measure(false)`
 * right before the second, so the skews of the two flips cancel. Then `stop()`, and up to
 * `drainMs` for `settled()` to hold (what has not settled by then counts as lost or stalled).
 * Returns the window (see {@link window}).
 */
export async function measurePhase({ warmupSec, durationSec, drainMs, measure, stop, settled }) {
  await sleep(warmupSec * 1000);
  measure(true);
  const a = await mark('start');
  await sleep(durationSec * 1000);
  measure(false);
  const b = await mark('end');
  stop();
  await waitFor(settled, drainMs);
  return window(a, b);
}
