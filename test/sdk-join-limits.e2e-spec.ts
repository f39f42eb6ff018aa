import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient } from './support/sdk.js';

/**
 * Issue 12 §3 and §4 through the SDK: a join refused by a per-connection limit rejects at once
 * with the server's code, never by TIMEOUT. TOO_MANY_ROOMS past `maxRoomsPerConnection`;
 * RATE_LIMITED for a join made in a burst over the message rate (its error echoes the join's
 * id, so the SDK can tell which request it answers).
 */
describe('SDK: joins refused by per-connection limits', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ options: { maxRoomsPerConnection: 2, messageRateLimit: 5 } });

  it('a join past maxRoomsPerConnection rejects with TOO_MANY_ROOMS; the room is not kept as wanted', async () => {
    const alice = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'alice' }), requestTimeoutMs: 10_000 });
    await alice.client.whenOpen();
    await alice.client.join('a');
    await alice.client.join('b');
    const err = await alice.client.join('c').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ConnectionManagerError', code: 'TOO_MANY_ROOMS', canvasId: 'c' });
    expect(alice.client.rooms.sort()).toEqual(['a', 'b']);
    // Joining a room it is in still resolves.
    await expect(alice.client.join('a')).resolves.toEqual({ roomId: 'canvas:a', canvasId: 'a' });
  });

  it('a join made in a burst over the message rate rejects at once with RATE_LIMITED, not after requestTimeoutMs', async () => {
    const bob = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'bob' }), requestTimeoutMs: 10_000 });
    await bob.client.whenOpen();
    await bob.client.join('a');
    // The join's budget is spent by messages (no id, no reply), in the same second.
    for (let i = 0; i < 5; i++) void bob.client.send('a', { i });
    const started = Date.now();
    const err = await bob.client.join('b').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ConnectionManagerError', code: 'RATE_LIMITED', canvasId: 'b' });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
