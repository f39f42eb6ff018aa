import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, userIds, waitFor } from './support/sdk.js';

/**
 * No valid reauth within the grace: the server closes with 4001 and the session ends. The SDK
 * gets a new token at once and logs in afresh, rejoining its rooms.
 */
describe('SDK: close 4001 → a new token and a fresh login', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ options: { reauthGraceMs: 1500 } });

  it('logs in again with getToken() after 4001 and rejoins', async () => {
    let rec: ReturnType<typeof sdkClient> | undefined;
    const getToken = (): string => {
      const state = rec?.client.state ?? 'connecting';
      if (state === 'connecting') return app().token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 2 });
      if (state === 'reconnecting') return app().token({ sub: 'alice' }); // the login after 4001
      return app().token({ sub: 'alice' }, {}, 'not-the-server-secret-not-the-server-secret'); // reauth: badly signed
    };
    rec = sdkClient({ url: app().url, getToken, backoff: { initialMs: 100, jitter: 0 } });
    const alice = rec;
    await alice.client.whenOpen();
    await alice.client.join('c1');

    await waitFor(() => alice.client.state === 'connected' && alice.states.length === 3, 'the login after 4001', 20_000);
    expect(alice.states.map((s) => s.state)).toEqual(['connected', 'reconnecting', 'connected']);
    expect(alice.states[1]).toMatchObject({ closeCode: 4001 });
    expect(alice.states[2]).toMatchObject({ missed: 'lost' });
    // the SDK tried to reauth (refused: UNAUTHORIZED) before the grace ended
    expect(alice.errors.some((e) => e.code === 'UNAUTHORIZED')).toBe(true);
    expect(app().eventsNamed('auth.expired')).toHaveLength(1);
    // no resume was attempted (4001 ends the session): the new connection is a fresh one
    expect(app().eventsNamed('connection.refused')).toEqual([]);
    await waitFor(() => alice.client.rooms.includes('c1') && userIds(alice.client.presence('c1')).join() === 'alice', 'rejoined c1');
  });
});
