// CPU speed probe, run by the harness just before every run: a fixed piece of
// the servers' kind of work (JSON stringify/parse of a message frame, a SHA-1
// as in the upgrade) timed by the process's own CPU time, so waiting for a
// core does not count, only how fast the core runs when we have it. On this
// kind of machine (a KVM guest; other work in the guest and on the host shares
// caches and cores) the same work was seen to take from 3.9 to 6.8 µs of CPU
// within minutes: CPU-per-operation figures move with it. The report shows the
// probe per run, so a figure from a slow moment can be recognised as such.
import { createHash } from 'node:crypto';

const FRAME = { type: 'message', roomId: 'canvas:c', canvasId: 'c', from: { userId: 'u1', connectionId: 'a' }, data: { x: 1, y: 2, s: 3, k: 4, t: 5 } };
const ITERS = 3000;

function work() {
  let n = 0;
  for (let i = 0; i < ITERS; i++) {
    const s = JSON.stringify(FRAME);
    n += JSON.parse(s).data.x + createHash('sha1').update(s).digest()[0];
  }
  return n;
}

/** µs of CPU per probe iteration: the best of 3 rounds (~30 ms in all), after a warm-up. */
export function cpuProbeUs() {
  work();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage();
    work();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / ITERS);
  }
  return best;
}
