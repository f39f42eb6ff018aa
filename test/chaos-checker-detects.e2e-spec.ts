import { describe, expect, it } from 'vitest';
import { runChaos } from './support/chaos-run.js';

/**
 * The chaos checker can fail (issue 16): the same short scenario as test/chaos-short, with the
 * SDK's testing-only switch `unsafeDisableExactlyOnce` turning off resume positions and `seq`
 * (fire and forget, the server falls back to its per-session replay buffers). Then strokes in
 * flight when a connection dies, strokes sent to a draining or killed instance, and replays that
 * guess what a client had, must show up as lost or duplicated deliveries, and the run must exit 1.
 */

describe('chaos checker: exactly-once switched off in the SDK', { timeout: 150_000 }, () => {
  it('reports lost or duplicated strokes, and the run fails', async () => {
    const run = await runChaos(['--scenario=short', '--redis=single', '--sdk={"unsafeDisableExactlyOnce":{"positions":true,"seq":true}}'], 140_000);
    expect(run.results, `the harness failed (exit ${run.exitCode}):\n${run.progress.slice(-4000)}`).toHaveLength(1);
    const [r] = run.results;
    expect(r.sdkOptions).toEqual({ unsafeDisableExactlyOnce: { positions: true, seq: true } });
    expect(r.figures.lost + r.figures.duplicated, run.report).toBeGreaterThan(0);
    expect(r.failures.join('\n'), run.report).toMatch(/lost|duplicated/);
    expect(run.exitCode, run.report).toBe(1);
  });
});
