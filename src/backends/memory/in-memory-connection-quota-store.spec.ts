import { beforeEach, describe, expect, it } from 'vitest';
import { InMemoryConnectionQuotaStore } from './in-memory-connection-quota-store.js';

const caps = { userCap: 2, tenantCap: 3 };

describe('InMemoryConnectionQuotaStore', () => {
  let store: InMemoryConnectionQuotaStore;
  beforeEach(() => {
    store = new InMemoryConnectionQuotaStore();
  });

  it('takes slots up to the user cap, then names the user quota; another user still fits', async () => {
    expect(await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'k1', ...caps })).toEqual({ ok: true });
    expect(await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'k2', ...caps })).toEqual({ ok: true });
    expect(await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'k3', ...caps })).toEqual({ ok: false, exceeded: 'user' });
    expect(await store.tryAcquire({ tenantId: 't', userId: 'bob', connectionId: 'k4', ...caps })).toEqual({ ok: true });
    expect(await store.tryAcquire({ tenantId: 't', userId: 'cat', connectionId: 'k5', ...caps })).toEqual({ ok: false, exceeded: 'tenant' });
    expect(store.countOf('t')).toBe(3);
  });

  it('names the user quota when both are used up; 0 means no cap', async () => {
    await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'k1', userCap: 1, tenantCap: 1 });
    expect(await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'k2', userCap: 1, tenantCap: 1 })).toEqual({ ok: false, exceeded: 'user' });
    for (let i = 0; i < 50; i++)
      expect((await store.tryAcquire({ tenantId: 'u', userId: 'ann', connectionId: `n${i}`, userCap: 0, tenantCap: 0 })).ok).toBe(true);
  });

  it('is idempotent per connection id, and a release frees exactly one slot (twice is harmless)', async () => {
    await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'k1', ...caps });
    await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'k1', ...caps });
    expect(store.countOf('t', 'ann')).toBe(1);
    await store.release({ tenantId: 't', userId: 'ann', connectionId: 'k1' });
    await store.release({ tenantId: 't', userId: 'ann', connectionId: 'k1' });
    expect(store.countOf('t')).toBe(0);
    expect(store.tenantIds()).toEqual([]);
  });

  it('does not count the connection a resume replaces (same user): a user at the cap can resume', async () => {
    await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'old', ...caps, userCap: 1 });
    expect(await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'new', ...caps, userCap: 1 })).toEqual({ ok: false, exceeded: 'user' });
    expect(await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'new', ...caps, userCap: 1, replaces: 'old' })).toEqual({ ok: true });
    // Unknown or already released: nothing to discount.
    expect(await store.tryAcquire({ tenantId: 't', userId: 'ann', connectionId: 'x', ...caps, userCap: 1, replaces: 'gone' })).toEqual({
      ok: false,
      exceeded: 'user',
    });
  });
});
