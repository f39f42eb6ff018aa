import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, sleep, waitFor } from './support/sdk.js';

/** A reauth token naming another user: the server closes with 4003 and the SDK stops (no retry). */
describe('SDK: close 4003 → stop', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ options: { reauthGraceMs: 5000 } });

  it('goes to "closed" with IDENTITY_MISMATCH and does not reconnect', async () => {
    let calls = 0;
    const alice = sdkClient({
      url: app().url,
      getToken: () => (++calls === 1 ? app().token({ sub: 'alice' }) : app().token({ sub: 'mallory' })),
      backoff: { initialMs: 50, jitter: 0 },
    });
    await alice.client.whenOpen();
    await alice.client.join('c1');

    await expect(alice.client.reauth()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await waitFor(() => alice.client.state === 'closed', 'closed');
    expect(alice.states.map((s) => s.state)).toEqual(['connected', 'closed']);
    expect(alice.states.at(-1)).toMatchObject({ closeCode: 4003 });
    expect(alice.errors).toContainEqual(expect.objectContaining({ code: 'IDENTITY_MISMATCH', closeCode: 4003 }));

    await sleep(1000);
    expect(app().eventsNamed('connection.established')).toHaveLength(1);
    expect(alice.tokenCalls).toBe(2);
    await expect(alice.client.join('c1')).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
