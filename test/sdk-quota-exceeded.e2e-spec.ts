import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, sleep, waitFor } from './support/sdk.js';

/**
 * Issue 12 §5: a 429 QUOTA_EXCEEDED is a 429 like the others for the SDK: on Node (where `ws`
 * shows the refused upgrade) it reports the code, the quota and Retry-After, waits at least
 * that long, and connects once a slot is free.
 */
describe('SDK: 429 QUOTA_EXCEEDED waits for Retry-After, then connects', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ options: { maxConnectionsPerUser: 1, retryAfterS: 2 } });

  it('reports QUOTA_EXCEEDED with the quota and retryAfterMs, retries after it, and gets in once the other tab closed', async () => {
    const otherTab = await app().connect({ sub: 'alice' });
    const alice = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'alice' }), backoff: { initialMs: 50, jitter: 0 } });

    await waitFor(() => alice.errors.length === 1, 'the refusal');
    const refusedAt = Date.now();
    expect(alice.errors[0]).toMatchObject({ code: 'QUOTA_EXCEEDED', status: 429, retryAfterMs: 2000, quota: 'user' });
    expect(alice.client.state).toBe('connecting');

    // The slot frees up at once; a 50 ms backoff would be back in by ~100 ms, Retry-After says 2 s.
    await otherTab.close();
    await sleep(1200);
    expect(alice.client.state).toBe('connecting');
    expect(app().eventsNamed('connection.refused')).toHaveLength(1);

    await alice.client.whenOpen();
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(1900);
    expect(alice.states.map((s) => s.state)).toEqual(['connected']);
  });
});
