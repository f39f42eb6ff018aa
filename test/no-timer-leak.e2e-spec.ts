import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryMembershipStore } from '../src/backends/memory/in-memory-membership-store.js';
import { MembershipStore } from '../src/domain/ports/membership-store.port.js';
import { InMemorySessionStore } from '../src/backends/memory/in-memory-session-store.js';
import { SessionStore } from '../src/domain/ports/session-store.port.js';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { TokenExpiryService } from '../src/domain/connections/token-expiry.service.js';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';

/**
 * No timer leak (issue 3): token-expiry deadlines (one per connection, all kept by one shared
 * timer, see DeadlineWheel) and away-session timers are cleaned up on close. Thousands of
 * connections that each join a room and hold a token expiring in an hour are opened and
 * closed; afterwards no timer, deadline, connection, room or session is left.
 *
 * Why a timer tracker and not only `process.getActiveResourcesInfo()`: the server `unref()`s its
 * per-connection timers (expiry, away sessions), and unref'd timers are NOT listed there (they do
 * not keep the loop alive), so a leaked expiry timer would be invisible to that count. The tracker
 * wraps the global timer functions (the app runs in this process) and counts every pending timer,
 * ref'd or not. A connection whose timer outlived its close would keep a +1 after the closes,
 * and the final "back to baseline" check would fail; a deadline left in the shared wheel would
 * fail the `expiry.pending` check.
 */

const TOTAL = 2000;
const BATCH = 100;
const MARGIN = 5;

interface TimerTracker {
  pending(): number;
  restore(): void;
}

function trackTimers(): TimerTracker {
  const g = globalThis as any;
  const orig = { setTimeout: g.setTimeout, clearTimeout: g.clearTimeout, setInterval: g.setInterval, clearInterval: g.clearInterval };
  const live = new Set<unknown>();
  const wrappedSetTimeout = (cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = orig.setTimeout(
      (...a: unknown[]) => {
        live.delete(timer);
        cb(...a);
      },
      ms,
      ...args,
    );
    live.add(timer);
    return timer;
  };
  wrappedSetTimeout[promisify.custom] = orig.setTimeout[promisify.custom];
  const clear = (fn: (t: unknown) => void) => (timer: unknown) => {
    live.delete(timer);
    fn(timer);
  };
  g.setTimeout = wrappedSetTimeout;
  g.clearTimeout = clear(orig.clearTimeout);
  g.setInterval = (cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = orig.setInterval(cb, ms, ...args);
    live.add(timer);
    return timer;
  };
  g.clearInterval = clear(orig.clearInterval);
  return {
    pending: () => live.size,
    restore: () => Object.assign(g, orig),
  };
}

/** Ref'd timers as Node itself reports them. */
const refTimeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('no timer leak', () => {
  let t: TestApp | undefined;
  let tracker: TimerTracker | undefined;
  afterEach(async () => {
    tracker?.restore();
    await t?.close();
  });

  it(`${TOTAL} connections (join a room, token valid 1 h) opened and closed leave no timer, connection, room or session behind`, async () => {
    tracker = trackTimers();
    t = await TestApp.create({ options: { rateLimitPoints: 100_000, maxConnections: 5000, reconnectTokenTtlMs: 200 } });
    const app = t;
    const sessions = app.get<SessionStore>(SessionStore);
    const membership = app.get<MembershipStore>(MembershipStore);
    expect(sessions).toBeInstanceOf(InMemorySessionStore);
    expect(membership).toBeInstanceOf(InMemoryMembershipStore);
    const sessionStore = sessions as unknown as InMemorySessionStore;
    const connections = app.get(ConnectionService);
    const rooms = app.get(RoomService);

    // Warm-up (lazy per-process and per-IP state), then the baseline.
    const warm = await app.connect({ sub: 'warm' });
    await warm.join('c0');
    await warm.close();
    await app.until(() => connections.count === 0 && sessionStore.size === 0, 5000, 'warm-up settled');
    await new Promise((r) => setTimeout(r, 200));
    const baseline = tracker.pending();
    const baselineRef = refTimeouts();

    const exp = Math.floor(Date.now() / 1000) + 3600;
    const expiry = app.get(TokenExpiryService);
    let peakDeadlines = 0;
    for (let start = 0; start < TOTAL; start += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: BATCH }, async (_, k) => {
          const i = start + k;
          const c = await app.connect({ sub: `u${i}`, exp });
          expect(await c.join(`c${i % 10}`)).toMatchObject({ type: 'room_joined' });
          return c;
        }),
      );
      peakDeadlines = Math.max(peakDeadlines, expiry.pending);
      // Open connections cost no timer each (the first batch: no away sessions from earlier ones).
      if (start === 0) expect(tracker.pending() - baseline, 'timers while the first 100 are open').toBeLessThanOrEqual(MARGIN);
      expect(connections.count).toBe(BATCH);
      await Promise.all(batch.map((c) => c.close()));
      batch.length = 0;
    }
    // Every open connection had its expiry deadline in the wheel.
    expect(peakDeadlines).toBeGreaterThanOrEqual(BATCH);

    await app.until(() => connections.count === 0, 10_000, 'every connection finalized');
    expect(rooms.localRoomCount).toBe(0);
    expect((membership as InMemoryMembershipStore).roomCount).toBe(0);
    // Closes are resumable: what is left are away sessions only, until their TTL runs out.
    expect(sessionStore.size).toBe(sessionStore.awayCount);
    expect(sessionStore.size).toBeLessThanOrEqual(TOTAL);
    await app.until(() => sessionStore.size === 0 && sessionStore.awayCount === 0, 10_000, 'away sessions expired');
    expect(app.eventsNamed('session.expired').length).toBe(TOTAL + 1);

    let pending = 0;
    await app.until(() => (pending = tracker!.pending()) <= baseline + MARGIN, 10_000, 'timers back to baseline').catch(() => undefined);
    expect(pending, `pending timers: baseline ${baseline}, now ${pending}`).toBeLessThanOrEqual(baseline + MARGIN);
    expect(refTimeouts()).toBeLessThanOrEqual(baselineRef + MARGIN);
    expect(expiry.pending).toBe(0);
  }, 240_000);
});
