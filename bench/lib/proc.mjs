// Process-level plumbing for the harness: reading another process's CPU from
// /proc, the clock-tick rate, the fd limit, and a registry that guarantees every
// child we start is killed when the harness exits (even on error/Ctrl-C).
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = null;
/** Clock ticks per second used by /proc/<pid>/stat (normally 100). */
export function clockTicks() {
  if (clkTck === null) {
    try { clkTck = Number.parseInt(execFileSync('getconf', ['CLK_TCK']).toString().trim(), 10) || 100; }
    catch { clkTck = 100; }
  }
  return clkTck;
}

/**
 * CPU time of a process in milliseconds, all threads included (GC and libuv threadpool work
 * counts against the server, as it should), to the nanosecond: the sum of its threads' run
 * time, the first field of /proc/<pid>/task/<tid>/schedstat. utime+stime (/proc/<pid>/stat,
 * {@link procStatCpuMs}) count 10-ms clock ticks, and an interleaved run reads a server 16 to
 * 20 times per window (two readings a slice): ±1.4 % on a connect window. On the same windows
 * the two agreed within 1.6 % (connect 561 against 570 ms, fanout 4,472 against 4,470 ms;
 * docs/performance.md, round 10). A thread that exits takes its time with it; a server's threads
 * (V8's, libuv's, Redis's) live as long as it does. Falls back to the ticks where schedstat is
 * missing.
 */
export function procCpuMs(pid) {
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return procStatCpuMs(pid);
  }
  let ns = 0;
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
    } catch {
      // The thread exited between the listing and the read: its time is gone either way.
    }
  }
  return Number.isFinite(ns) && ns > 0 ? ns / 1e6 : procStatCpuMs(pid);
}

/**
 * utime+stime of a process in milliseconds, all threads included, in 10-ms clock ticks.
 * Fields 14 and 15 of /proc/<pid>/stat; we split after the last ')' because the
 * command name (field 2) may contain spaces or parentheses.
 */
export function procStatCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state) so field N is rest[N - 3].
  const ticks = Number(rest[14 - 3]) + Number(rest[15 - 3]);
  return (ticks * 1000) / clockTicks();
}

/**
 * CPU ms the whole machine spent busy (all CPUs: user, nice, system, irq,
 * softirq, steal from the first line of /proc/stat). Minus what our own
 * processes used over the same window, it is what OTHER work on the machine
 * took: the honest noise figure for a run (the load average counts our own
 * server and generator too).
 */
export function machineBusyMs() {
  const f = readFileSync('/proc/stat', 'utf8').slice(0, 256).split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return ((user + nice + system + irq + softirq + (steal || 0)) * 1000) / clockTicks();
}

/** Soft limit on open files, as children will inherit it. */
export function fdLimit() {
  try { return Number.parseInt(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim(), 10); }
  catch { return NaN; }
}

// ---- child registry -------------------------------------------------------
const children = new Set();

/** Track a child so it is SIGKILLed if the harness exits while it runs. */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
  children.clear();
}

let installed = false;
export function installCleanup() {
  if (installed) return;
  installed = true;
  // 'exit' handlers must be synchronous; kill() is.
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { killAll(); process.exit(130); });
  }
  process.on('uncaughtException', (err) => { console.error(err); killAll(); process.exit(1); });
  process.on('unhandledRejection', (err) => { console.error(err); killAll(); process.exit(1); });
}
