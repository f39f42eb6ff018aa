import { describe, expect, it } from 'vitest';
import type { CanvasAccessPolicy } from '../src/domain/ports/canvas-access-policy.port.js';
import type { Identity } from '../src/domain/connections/identity.js';
import { sdkAppPerTest, sdkClient, sleep, waitFor } from './support/sdk.js';

/** An access policy that takes 2 s to answer for the canvas "slow" (a slow database, say). */
class SlowPolicy implements CanvasAccessPolicy {
  async canJoin(_identity: Identity, canvasId: string): Promise<boolean> {
    if (canvasId === 'slow') await sleep(2000);
    return true;
  }
}

/** A request whose reply does not come within requestTimeoutMs rejects with TIMEOUT; the client goes on. */
describe('SDK: request timeout', { timeout: 60_000 }, () => {
  const app = sdkAppPerTest({ canvasAccessPolicy: SlowPolicy });

  it('rejects a join with TIMEOUT after requestTimeoutMs and keeps working', async () => {
    const alice = sdkClient({ url: app().url, getToken: () => app().token({ sub: 'alice' }), requestTimeoutMs: 400 });
    await alice.client.whenOpen();

    const started = Date.now();
    const err = await alice.client.join('slow').catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(err).toMatchObject({ name: 'ConnectionManagerError', code: 'TIMEOUT', canvasId: 'slow' });
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(1900); // well before the server's late answer
    expect(alice.client.state).toBe('connected');

    // The late room_joined still updates the client's view of where the server put it.
    await waitFor(() => alice.client.rooms.includes('slow'), 'the late room_joined', 10_000);
    // and the connection goes on answering (a few tries: 400 ms is short on a busy machine)
    expect(await retried(() => alice.client.join('fast'))).toEqual({ roomId: 'canvas:fast', canvasId: 'fast' });
    expect(await retried(() => alice.client.ping())).toEqual(expect.any(Number));
  });
});

async function retried<T>(fn: () => Promise<T>, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= tries || (e as { code?: string }).code !== 'TIMEOUT') throw e;
    }
  }
}
