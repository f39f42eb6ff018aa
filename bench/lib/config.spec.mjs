// Which cluster layouts a run gets: the opt-in ones (design experiments, not rows of the issue)
// only when named, so the judged group of a default or smoke run stays what it was.
import { describe, expect, it } from 'vitest';
import { parseArgs } from './config.mjs';
import { LAYOUTS } from './cluster.mjs';

const optIn = Object.keys(LAYOUTS.cluster).filter((l) => LAYOUTS.cluster[l].optIn);

describe('parseArgs cluster layouts', () => {
  it('has the write-behind experiment as an opt-in layout', () => {
    expect(optIn).toEqual(['floor-redis-behind']);
  });

  it('leaves opt-in layouts out of the default run and the smoke run', () => {
    for (const argv of [[], ['--smoke']]) {
      const { clusterLayouts } = parseArgs(argv);
      expect(clusterLayouts).toContain('floor-redis-1');
      for (const l of optIn) expect(clusterLayouts).not.toContain(l);
    }
  });

  it('runs an opt-in layout when --layouts names it', () => {
    const { clusterLayouts } = parseArgs(['--layouts=mem,floor-mem,floor-redis-behind']);
    expect(clusterLayouts).toEqual(['mem', 'floor-mem', 'floor-redis-behind']);
  });
});
