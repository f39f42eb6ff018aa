import { describe, expect, it } from 'vitest';
import { check, STATUS, type CheckedClient } from '../scripts/chaos/checker.mjs';

/**
 * The chaos checker's rule (scripts/chaos/checker.mjs, issue 16) on hand-made reports: which
 * strokes every other member must receive (acknowledged, or sent and never reported otherwise),
 * which it must not (refused), which it may (reported unacknowledged), and what counts as lost,
 * duplicated, reordered, echoed, and an unjustified truncation. The full harness runs in
 * test/chaos-short and test/chaos-checker-detects.
 */

/** A client of room r that sent `statuses.length` strokes with those statuses and received `got`. */
function client(idx: number, statuses: number[], got: Record<number, number[]> = {}, extra: Partial<CheckedClient> = {}): CheckedClient {
  return {
    idx,
    room: 'r',
    sent: statuses.length,
    status: [STATUS.NONE, ...statuses],
    refusedCodes: {},
    got: new Map(Object.entries(got).map(([s, list]) => [Number(s), list])),
    echoes: 0,
    states: [{ t: 0, state: 'connected' }],
    errors: {},
    truncations: [],
    promiseSends: true,
    ...extra,
  };
}

const { ACKED, SENT, REFUSED, UNACKNOWLEDGED } = STATUS;

describe('chaos checker rules', () => {
  it('a clean room: every acknowledged stroke once, in order, at every other member', () => {
    const f = check({ clients: [client(0, [ACKED, ACKED], { 1: [1] }), client(1, [ACKED], { 0: [1, 2] })] });
    expect(f).toMatchObject({ lost: 0, duplicated: 0, reordered: 0, echoed: 0, deliveriesExpected: 3, deliveriesReceived: 3, failures: [] });
  });

  it('lost: an acknowledged stroke, or one sent and never reported undelivered, that a member never got', () => {
    const f = check({ clients: [client(0, [ACKED, ACKED, SENT]), client(1, [], { 0: [1] }), client(2, [], { 0: [1, 2, 3] })] });
    // u1 misses 2 (acked) and 3 (sent: pending at the end counts as expected, and as a failure of its own)
    expect(f).toMatchObject({ lost: 2, pendingAtEnd: 1 });
    expect(f.failures).toEqual(expect.arrayContaining(['lost: 2', 'sends pending at the end: 1']));
  });

  it('refused strokes are expected by nobody, and one that arrives anyway is a failure', () => {
    const f = check({ clients: [client(0, [ACKED, REFUSED, REFUSED]), client(1, [], { 0: [1, 3] })] });
    expect(f).toMatchObject({ lost: 0, strokesRefused: 2, deliveredDespiteRefusal: 1 });
    expect(f.failures).toEqual(['delivered despite refusal: 1']);
  });

  it('unacknowledged strokes may or may not arrive: never lost, reported as reaching all, some or none', () => {
    const f = check({
      clients: [client(0, [UNACKNOWLEDGED, UNACKNOWLEDGED, UNACKNOWLEDGED]), client(1, [], { 0: [1, 2] }), client(2, [], { 0: [1] })],
    });
    expect(f).toMatchObject({ lost: 0, unacknowledgedReached: { all: 1, some: 1, none: 1 }, failures: [] });
  });

  it('duplicated, reordered and echoed are counted per copy', () => {
    const f = check({
      clients: [client(0, [ACKED, ACKED, ACKED], {}, { echoes: 2 }), client(1, [], { 0: [1, 3, 2, 3, 3] })],
    });
    // 2 arrives after 3 (reordered); 3 arrives three times (2 duplicates)
    expect(f).toMatchObject({ lost: 0, duplicated: 2, reordered: 1, echoed: 2 });
  });

  it('without send() promises (fire and forget), every stroke sent is expected', () => {
    const f = check({ clients: [client(0, [SENT, SENT], {}, { promiseSends: false }), client(1, [], { 0: [2] }, { promiseSends: false })] });
    expect(f).toMatchObject({ lost: 1, pendingAtEnd: 0 });
  });

  it('a truncated resume fails unless the log bound was really exceeded (or the epoch changed)', () => {
    const truncated = (before: string | null, after: string | null) => ({
      states: [
        { t: 0, state: 'connected' },
        { t: 1, state: 'reconnecting' },
        { t: 2, state: 'resumed', missed: 'truncated' },
      ],
      truncations: [{ t: 2, before, after }],
    });
    const f = check(
      {
        clients: [
          client(0, [], {}, truncated('e1.100', 'e1.150')), // 49 missed, bound 500: not justified
          client(1, [], {}, truncated('e1.100', 'e1.700')), // 599 missed: justified
          client(2, [], {}, truncated('e1.100', 'e2.1')), // the log was lost: justified
          client(3, [], {}, truncated(null, 'e1.5')), // nothing to judge by: not justified
        ],
      },
      { logBound: 500 },
    );
    expect(f.resumes).toMatchObject({ truncated: 4, truncatedJustified: 2 });
    expect(f.failures).toEqual(['truncated resumes within the log bound: 2']);
  });

  it('a session lost (fresh login, missed "lost") is a failure', () => {
    const f = check({
      clients: [
        client(
          0,
          [],
          {},
          {
            states: [
              { t: 0, state: 'connected' },
              { t: 1, state: 'reconnecting' },
              { t: 2, state: 'connected', missed: 'lost' },
            ],
          },
        ),
      ],
    });
    expect(f).toMatchObject({ sessionsLost: 1, freshLogins: 1 });
    expect(f.failures).toEqual(['sessions lost (fresh login): 1']);
  });
});
