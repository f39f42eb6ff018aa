import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineWheel } from './deadline-wheel.js';

describe('DeadlineWheel', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires an item at its deadline rounded up to the quantum, never before', () => {
    const fired: string[] = [];
    const wheel = new DeadlineWheel<string>((x) => fired.push(x));
    wheel.add('a', Date.now() + 250); // bucket at +300
    vi.advanceTimersByTime(249);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(50); // +299
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1); // +300
    expect(fired).toEqual(['a']);
    expect(wheel.size).toBe(0);
  });

  it('a removed item never fires; the others of its bucket still do', () => {
    const fired: string[] = [];
    const wheel = new DeadlineWheel<string>((x) => fired.push(x));
    const slotA = wheel.add('a', Date.now() + 100);
    wheel.add('b', Date.now() + 100);
    wheel.remove('a', slotA);
    vi.advanceTimersByTime(200);
    expect(fired).toEqual(['b']);
  });

  it('an earlier deadline added later re-arms the single timer', () => {
    const fired: string[] = [];
    const wheel = new DeadlineWheel<string>((x) => fired.push(x));
    wheel.add('late', Date.now() + 10_000);
    wheel.add('early', Date.now() + 500);
    vi.advanceTimersByTime(500);
    expect(fired).toEqual(['early']);
    vi.advanceTimersByTime(9_500);
    expect(fired).toEqual(['early', 'late']);
  });

  it('deadlines beyond the maximum hop are reached in hops, and only one timer is ever pending', () => {
    const fired: string[] = [];
    const wheel = new DeadlineWheel<string>((x) => fired.push(x));
    for (let i = 0; i < 1000; i++) wheel.add(`c${i}`, Date.now() + 3_600_000 + i * 7);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(3_600_000 - 1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(7_100);
    expect(fired).toHaveLength(1000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a throwing handler is reported and does not stop the rest of the bucket', () => {
    const fired: string[] = [];
    const errors: unknown[] = [];
    const wheel = new DeadlineWheel<string>(
      (x) => {
        if (x === 'bad') throw new Error('boom');
        fired.push(x);
      },
      (err) => errors.push(err),
    );
    wheel.add('bad', Date.now() + 100);
    wheel.add('good', Date.now() + 100);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['good']);
    expect(errors).toHaveLength(1);
  });

  it('a handler may schedule again (grace period after the expiry)', () => {
    const fired: string[] = [];
    const wheel: DeadlineWheel<string> = new DeadlineWheel<string>((x) => {
      fired.push(x);
      if (x === 'expiry') wheel.add('grace', Date.now() + 300);
    });
    wheel.add('expiry', Date.now() + 100);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['expiry']);
    vi.advanceTimersByTime(300);
    expect(fired).toEqual(['expiry', 'grace']);
  });

  it('churn (add then remove, same and new buckets) leaves no items and a bounded heap', () => {
    const wheel = new DeadlineWheel<number>(() => undefined);
    for (let i = 0; i < 20_000; i++) {
      const slot = wheel.add(i, Date.now() + 60_000 + (i % 50) * 100);
      wheel.remove(i, slot);
    }
    expect(wheel.size).toBe(0);
    // 50 distinct buckets were used: each due time is queued once, not once per add.
    expect((wheel as unknown as { heap: number[] }).heap.length).toBe(50);
  });

  it('property: every item fires exactly once, in deadline order (by bucket), no earlier than its deadline', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.integer({ min: 0, max: 200_000 }), drop: fc.boolean() }), { maxLength: 200 }), (specs) => {
        vi.setSystemTime(1_000_000);
        const start = Date.now();
        const fired: Array<{ i: number; t: number }> = [];
        const wheel = new DeadlineWheel<number>((i) => fired.push({ i, t: Date.now() }));
        const slots = specs.map((s, i) => wheel.add(i, start + s.at));
        specs.forEach((s, i) => s.drop && wheel.remove(i, slots[i]!));
        vi.advanceTimersByTime(200_100);
        const expected = specs.map((s, i) => ({ s, i })).filter(({ s }) => !s.drop);
        expect(fired.map((f) => f.i).sort((a, b) => a - b)).toEqual(expected.map((e) => e.i));
        for (const f of fired) {
          expect(f.t).toBeGreaterThanOrEqual(start + specs[f.i]!.at);
          expect(f.t).toBeLessThan(start + specs[f.i]!.at + 100 + 1);
        }
        for (let k = 1; k < fired.length; k++) expect(slots[fired[k]!.i]!).toBeGreaterThanOrEqual(slots[fired[k - 1]!.i]!);
        wheel.stop();
      }),
      { numRuns: 100 },
    );
  });
});
