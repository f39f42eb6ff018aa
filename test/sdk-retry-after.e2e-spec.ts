import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, sleep, waitFor } from './support/sdk.js';

/**
 * A 503 (SERVER_FULL) with Retry-After: the SDK (on Node, where `ws` shows the refused
 * upgrade's status) waits at least that long before the next attempt, whatever its backoff says.
 */
describe('SDK: 503 Retry-After is honoured', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ options: { maxConnections: 1, retryAfterS: 2 } });

  it('reports SERVER_FULL with retryAfterMs and waits before retrying', async () => {
    const occupant = await app().connect({ sub: 'occupant' });
    const alice = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'alice' }), backoff: { initialMs: 50, jitter: 0 } });

    await waitFor(() => alice.errors.length === 1, 'the refusal');
    const refusedAt = Date.now();
    expect(alice.errors[0]).toMatchObject({ code: 'SERVER_FULL', status: 503, retryAfterMs: 2000 });
    expect(alice.client.state).toBe('connecting');

    // The slot frees up at once; a 50 ms backoff would be back in by ~100 ms, Retry-After says 2 s.
    await occupant.close();
    await sleep(1200);
    expect(alice.client.state).toBe('connecting');
    expect(app().eventsNamed('connection.refused')).toHaveLength(1);

    await alice.client.whenOpen();
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(1900);
    expect(alice.states.map((s) => s.state)).toEqual(['connected']);
    expect(app().eventsNamed('connection.refused')).toHaveLength(1);
  });
});
