// The interleaving's two pieces: turns go round strictly and never overlap, set-up is never
// overlapped, a column that leaves never blocks the others; and sliced samples sum to one window.
import { describe, expect, it } from 'vitest';
import { Turns } from './turns.mjs';
import { mergeSlices } from './generator.mjs';

const tick = () => new Promise((r) => setImmediate(r));

/** A column that takes `n` turns, logging each, and passes after a tick. */
async function column(turns, name, n, log) {
  for (let i = 0; i < n; i++) {
    await turns.take(name);
    log.push(`${name}${i}`);
    await tick();
    turns.pass(name);
  }
  turns.leave(name);
}

describe('Turns', () => {
  it('goes round strictly in order, one holder at a time', async () => {
    const turns = new Turns(['a', 'b', 'c']);
    const log = [];
    await Promise.all([column(turns, 'c', 2, log), column(turns, 'a', 2, log), column(turns, 'b', 2, log)]);
    expect(log).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1']);
  });

  it('grants no turn until every column has asked once (set-up never overlaps a slice)', async () => {
    const turns = new Turns(['a', 'b']);
    let granted = false;
    void turns.take('a').then(() => { granted = true; });
    await tick();
    expect(granted).toBe(false);
    void turns.take('b');
    await tick();
    expect(granted).toBe(true);
  });

  it('lets the others go on alone once a column leaves, even one that never asked', async () => {
    const turns = new Turns(['a', 'b', 'c']);
    turns.leave('b'); // its server did not start
    const log = [];
    await Promise.all([column(turns, 'a', 3, log), column(turns, 'c', 1, log)]);
    expect(log).toEqual(['a0', 'c0', 'a1', 'a2']);
  });

  it('never keeps a group of one waiting', async () => {
    const turns = new Turns(['solo']);
    const log = [];
    await column(turns, 'solo', 3, log);
    expect(log).toEqual(['solo0', 'solo1', 'solo2']);
  });
});

describe('mergeSlices', () => {
  it('sums every slice into one start/end pair, arrays per element', () => {
    const s = mergeSlices({
      'start.0': { cpuMs: 10, perInstanceMs: [1, 2], t: 100 },
      'end.0': { cpuMs: 15, perInstanceMs: [3, 3], t: 200 },
      'start.1': { cpuMs: 40, perInstanceMs: [10, 10], t: 500 },
      'end.1': { cpuMs: 47, perInstanceMs: [11, 14], t: 650 },
      baseline: { heapUsed: 1 },
    });
    expect(s.end.cpuMs - s.start.cpuMs).toBe(12);
    expect(s.end.perInstanceMs).toEqual([3, 5]);
    expect(s.end.t - s.start.t).toBe(250);
    expect(s.baseline).toEqual({ heapUsed: 1 });
    expect(s['start.0']).toBeUndefined();
  });

  it('refuses a slice without its end', () => {
    expect(() => mergeSlices({ 'start.0': { cpuMs: 1 } })).toThrow(/end\.0/);
  });

  it('leaves unsliced samples as they are', () => {
    const samples = { start: { cpuMs: 1 }, end: { cpuMs: 2 } };
    expect(mergeSlices(samples)).toBe(samples);
  });
});
