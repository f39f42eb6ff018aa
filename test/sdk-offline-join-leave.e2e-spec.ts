import { describe, expect, it } from 'vitest';
import { sdkAppPerTest, sdkClient, userIds, waitFor } from './support/sdk.js';

/**
 * join() and leave() called while no connection is up wait for the next connection_ack and are
 * sent then, in the order the app called them. A leave of a room the new connection is not in
 * is answered on the spot, unless a join of that room went out before it in the same flush:
 * then the server must see both, or the client ends up in a room the app has left.
 */
describe('SDK: join and leave queued before the connection is up', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest();

  it('join then leave: the client ends up out of the room, and the server agrees', async () => {
    const bob = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'bob' }) });
    await bob.client.whenOpen();
    await bob.client.join('c1');

    const alice = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'alice' }) });
    expect(alice.client.state).toBe('connecting');
    const joined = alice.client.join('c1');
    const left = alice.client.leave('c1');
    await expect(joined).resolves.toEqual({ roomId: 'canvas:c1', canvasId: 'c1' });
    await expect(left).resolves.toBeUndefined();
    await alice.client.ping(); // one more round trip: every reply to the join and the leave is in

    expect(alice.client.rooms).toEqual([]);
    expect(alice.client.presence('c1')).toEqual([]);
    // The server let alice go too: bob saw her come and leave.
    await waitFor(() => bob.presence.some((p) => p.change.kind === 'leave' && p.change.userId === 'alice'), 'bob sees alice leave c1', 3000);
    expect(userIds(bob.client.presence('c1'))).toEqual(['bob']);
  });

  it('leave then join: the leave is answered at once and the join goes through', async () => {
    const alice = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'alice' }) });
    const left = alice.client.leave('c2');
    const joined = alice.client.join('c2');
    await expect(left).resolves.toBeUndefined();
    await expect(joined).resolves.toEqual({ roomId: 'canvas:c2', canvasId: 'c2' });
    expect(alice.client.rooms).toEqual(['c2']);
    expect(alice.errors).toEqual([]);
  });
});
