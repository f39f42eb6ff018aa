import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs the chaos harness (scripts/chaos/run.mjs, issue 16) as a child process and returns its
 * result: the JSON it writes (`--json`) and the Markdown report it prints (for failure
 * messages). The harness starts and stops its own redis-server(s), app instances and nginx on
 * free 127.0.0.1 ports; `--watch-stdin` makes it clean up and exit if this test process dies.
 */

const RUN = fileURLToPath(new URL('../../scripts/chaos/run.mjs', import.meta.url));

export interface ChaosOutcome {
  /** 0 clean, 1 the checker found a failure, 2 the harness failed. */
  exitCode: number | null;
  /** The Markdown report (stdout) and the progress lines (stderr). */
  report: string;
  progress: string;
  /** `results` of the JSON output: one per Redis kind (see scripts/chaos/run.mjs). */
  results: any[];
}

export async function runChaos(args: string[], timeoutMs: number): Promise<ChaosOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'cm-chaos-test-'));
  const json = join(dir, 'result.json');
  try {
    const child = spawn(process.execPath, [RUN, ...args, `--json=${json}`, '--watch-stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let report = '';
    let progress = '';
    child.stdout.on('data', (d: Buffer) => (report += d.toString()));
    child.stderr.on('data', (d: Buffer) => (progress += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    clearTimeout(timer);
    let results: any[] = [];
    try {
      results = JSON.parse(readFileSync(json, 'utf8')).results;
    } catch {
      // no JSON: the harness failed before the end (exitCode 2); the progress lines say why
    }
    return { exitCode, report, progress, results };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
