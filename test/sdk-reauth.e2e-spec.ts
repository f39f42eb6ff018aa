import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, sleep, waitFor } from './support/sdk.js';

/**
 * At the token's expiry the server sends reauth_required; the SDK calls getToken() and sends
 * reauth by itself, gets reauth_ok, and the connection lives on past the grace (no 4001).
 */
describe('SDK: reauth_required → getToken() → reauth_ok', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ options: { reauthGraceMs: 1500 } });

  it('refreshes the token in place and keeps the connection', async () => {
    let calls = 0;
    const getToken = (): string => {
      calls++;
      // the first token expires in 2 s; the ones after that in an hour
      return calls === 1 ? app().token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 2 }) : app().token({ sub: 'alice' });
    };
    const alice = sdkClient<{ n: number }>({ url: app().url, getToken });
    const bob = sdkClient<{ n: number }>({ url: app().url, getToken: () => app().token({ sub: 'bob' }) });
    await Promise.all([alice.client.whenOpen(), bob.client.whenOpen()]);
    await alice.client.join('c1');
    await bob.client.join('c1');
    const connectionId = alice.client.session!.connectionId;

    await waitFor(() => app().eventsNamed('auth.reauthenticated').length === 1, 'auth.reauthenticated', 15_000);
    expect(alice.tokenCalls).toBe(2);
    expect(app().eventsNamed('auth.reauthenticated')[0]).toMatchObject({ connectionId });

    // past the end of the grace the connection is still the same one, and it works
    await sleep(2500);
    expect(app().eventsNamed('auth.expired')).toEqual([]);
    expect(alice.client.state).toBe('connected');
    expect(alice.states.map((s) => s.state)).toEqual(['connected']);
    expect(alice.client.session!.connectionId).toBe(connectionId);
    void bob.client.send('c1', { n: 1 });
    await waitFor(() => alice.messages.length === 1, 'a message after the grace');
    expect(alice.errors).toEqual([]);

    // a proactive refresh: reauth() resolves with the new expiry from reauth_ok
    const expiresAt = await alice.client.reauth();
    expect(expiresAt).toBeGreaterThan(Date.now() + 3500_000);
    expect(alice.tokenCalls).toBe(3);
  });
});
