import { describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { sdkAppPerTest, sdkClient, userIds, waitFor } from './support/sdk.js';

/**
 * Close 1012 "service restart" (what a draining instance sends) means "resume at once,
 * elsewhere": the SDK reconnects without waiting for its backoff, and resumes.
 */
describe('SDK: 1012 → immediate resume', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest();

  it('resumes at once, not after the backoff', async () => {
    // A 6 s backoff: a reconnect that waited for it would miss the deadline below.
    const alice = sdkClient<{ n: number }>({ url: app().url, getToken: () => app().token({ sub: 'alice' }), backoff: { initialMs: 6000, jitter: 0 } });
    const bob = sdkClient<{ n: number }>({ url: app().url, getToken: () => app().token({ sub: 'bob' }) });
    await Promise.all([alice.client.whenOpen(), bob.client.whenOpen()]);
    await alice.client.join('c1');
    await bob.client.join('c1');

    // The server closes alice's connection as a drain does: 1012, session kept for the resume.
    const connections = app().get(ConnectionService);
    const started = Date.now();
    connections.disconnect(alice.client.session!.connectionId, 1012, 'service restart', true);
    void bob.client.send('c1', { n: 1 });

    await waitFor(() => alice.client.state === 'resumed', 'resumed', 20_000);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(alice.states.map((s) => s.state)).toEqual(['connected', 'reconnecting', 'resumed']);
    expect(alice.states[1]).toMatchObject({ closeCode: 1012, reason: 'service restart' });
    expect(alice.client.rooms).toEqual(['c1']);
    await waitFor(() => alice.messages.length === 1, 'the message sent during the restart');
    expect(alice.messages[0].data).toEqual({ n: 1 });
    await waitFor(() => userIds(alice.client.presence('c1')).join() === 'alice,bob', 'presence');
  });
});
