import { describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { expAfter } from './support/continuity.js';
import { sdkAppPerTest, sdkClient, waitFor } from './support/sdk.js';

/**
 * The grace belongs to the session (issue 12 §1), seen from the SDK: it needs nothing new, but a
 * client whose getToken() stops giving tokens must end `closed` by the session's credential
 * deadline (`exp` + grace), however often its connection drops and resumes in between. Before
 * the rule, every resume after `exp` started a fresh grace: a client dropped more often than the
 * grace lived on for ever.
 */
describe('SDK: a signed-out client ends by the credential deadline, however often it drops', { timeout: 60_000 }, () => {
  const GRACE = 1500;
  const app = sdkAppPerTest({ options: { reauthGraceMs: GRACE, rateLimitPoints: 100_000 } });

  it('dropped every 150 ms from before exp on: closed with 4001 (or refused 401, then stopped) within the deadline', async () => {
    const exp = expAfter(800);
    const deadline = exp * 1000 + GRACE;
    let calls = 0;
    // The first token, then nothing: the user signed out elsewhere (reauth and fresh logins get null).
    const alice = sdkClient({
      url: app().url,
      getToken: () => (calls++ === 0 ? app().token({ sub: 'alice', exp }) : null),
      backoff: { initialMs: 30, maxMs: 60, jitter: 0 },
    });
    await alice.client.whenOpen();
    await alice.client.join('c1');

    // The network drops the connection over and over (server side, resumable, like the demo's drop).
    const connections = app().get(ConnectionService);
    const dropper = setInterval(() => {
      for (const c of connections.byUserId('t1', 'alice')) connections.terminate(c, { cause: 'client', resumable: true });
    }, 150);
    try {
      await waitFor(() => alice.client.state === 'closed', 'the client closed', deadline + 4000 - Date.now());
    } finally {
      clearInterval(dropper);
    }
    const closedAt = Date.now();

    const states = alice.states.map((s) => s.state);
    // It was dropped and resumed during the grace, more than once…
    expect(states.filter((s) => s === 'resumed').length, `states: ${states.join(',')}`).toBeGreaterThanOrEqual(3);
    // …and still ended by the deadline (the SDK reacts to 4001 / 401 at once: 1 s of slack for a
    // loaded machine; without the rule it never ends while the drops go on).
    expect(closedAt, 'closed after the credential deadline').toBeLessThan(deadline + 1000);
    const lastDrop = alice.states.findLast((s) => s.state === 'reconnecting');
    const refused401 = alice.errors.some((e) => e.status === 401);
    expect(lastDrop?.closeCode === 4001 || refused401, 'ended by a 4001 close or a 401 refusal').toBe(true);
    expect(alice.errors.at(-1)).toMatchObject({ code: 'TOKEN_UNAVAILABLE' });
    expect(
      app()
        .eventsNamed('connection.established')
        .filter((e) => e.userId === 'alice' && !e.resumed),
    ).toHaveLength(1);
  });
});
