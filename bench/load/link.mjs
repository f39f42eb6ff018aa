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

/** Wait for this column's turn (interleaved runs, lib/turns.mjs; at once when the run has none). */
export const takeTurn = () => sampleServer('turn', 'turn');
/** Hand the turn to the next column. */
export const passTurn = () => sampleServer('pass', 'pass');

/**
 * A measured window in `slices` slices, each in its own turn: take the turn, `before(i)`, mark
 * 'start.i', `body(i)`, `beforeEnd(i)`, mark 'end.i', `after(i)`, pass the turn. The harness
 * sums the slices' server samples (lib/generator.mjs mergeSlices); this returns the summed
 * window (see {@link window}). One slice is the plain window of a run that is not interleaved.
 */
export async function slicedWindow(slices, body, { before, beforeEnd, after } = {}) {
  let wallMs = 0;
  let genCpuMs = 0;
  for (let i = 0; i < slices; i++) {
    await takeTurn();
    await before?.(i);
    const a = await mark(`start.${i}`);
    await body(i);
    beforeEnd?.(i);
    const b = await mark(`end.${i}`);
    await after?.(i);
    await passTurn();
    const w = window(a, b);
    wallMs += w.wallMs;
    genCpuMs += w.genCpuMs;
  }
  return { wallMs, genCpuMs, genCpuShare: wallMs > 0 ? genCpuMs / wallMs : null, slices };
}

/** `total` split into `parts` whole shares that differ by at most one, larger first. */
export const shares = (total, parts) => Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

/** How many slices a timed window of `durationSec` is cut into: `sliceSec` each, or one when unset (not interleaved). */
export const sliceCount = (durationSec, sliceSec) => (sliceSec ? Math.max(1, Math.round(durationSec / sliceSec)) : 1);
