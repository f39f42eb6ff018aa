import { describe, expect, it } from 'vitest';
import { runChaos } from './support/chaos-run.js';

/**
 * Issue 16's proof, short version (the long one is `npm run chaos`, docs/reliability.md "Rolling
 * deploy under faults"): nginx in front of 3 instances of the demo app on Redis, 40 SDK clients
 * in 2 rooms of 20 sending strokes at 2 Hz with `send()` for 30 s, while the instances are
 * restarted one by one (SIGTERM, back and ready, next), Redis is paused for 3 s (SIGSTOP) with
 * connections dropped during the pause, one instance is SIGKILLed, and every 5 s 5 % of the
 * clients lose their TCP connection. Then every member must have received every stroke of every
 * other member of its room exactly once, in order, and never its own; no resume may be
 * truncated or lost; presence must be right after the instance lease. Once on a single
 * redis-server and once on a 3-master Redis Cluster (CHAOS_SHORT_REDIS=single or cluster runs one).
 */

const kinds = (process.env.CHAOS_SHORT_REDIS ?? 'single,cluster').split(',');

describe('chaos, short: a rolling deploy behind nginx under faults loses nothing', { timeout: 180_000 }, () => {
  for (const kind of kinds) {
    it(`on ${kind === 'single' ? 'one redis-server' : 'a 3-master Redis Cluster'}: 0 lost, duplicated, reordered, echoed`, async () => {
      const run = await runChaos(['--scenario=short', `--redis=${kind}`], 170_000);
      expect(run.results, `the harness failed (exit ${run.exitCode}):\n${run.progress.slice(-4000)}`).toHaveLength(1);
      const [r] = run.results;
      const f = r.figures;
      // Every fault happened and hit clients (a scenario that injected nothing would prove nothing).
      for (const fault of ['sigterm', 'sigkill', 'redis-pause', 'drop'])
        expect(r.recovery.filter((x: any) => x.kind === fault && x.affected > 0).length, fault).toBeGreaterThan(0);
      expect(f.strokesAcked, run.report).toBeGreaterThan(1000);
      expect(
        { lost: f.lost, duplicated: f.duplicated, reordered: f.reordered, echoed: f.echoed, pendingAtEnd: f.pendingAtEnd, sessionsLost: f.sessionsLost },
        run.report,
      ).toEqual({ lost: 0, duplicated: 0, reordered: 0, echoed: 0, pendingAtEnd: 0, sessionsLost: 0 });
      expect(f.resumes.truncated - f.resumes.truncatedJustified, run.report).toBe(0);
      expect(r.failures, run.report).toEqual([]);
      expect(run.exitCode, run.report).toBe(0);
    });
  }
});
