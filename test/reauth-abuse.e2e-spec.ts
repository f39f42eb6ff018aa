import { afterEach, describe, expect, it, vi } from 'vitest';
import { JwtAuthenticator } from '../src/ws/auth.js';
import { sleep } from './support/continuity.js';
import { TestApp } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

/**
 * Reauth is not free to abuse (issue 12 §3): a reauth whose token does not verify counts toward
 * the existing 1008 threshold of invalid frames (more than 10 within 10 s), like a BAD_REQUEST;
 * a token longer than 8 KiB is refused with UNAUTHORIZED before any verification.
 */
describe('reauth: failed attempts count toward the 1008 close; long tokens are refused unverified', () => {
  let t: TestApp;
  afterEach(async () => {
    vi.restoreAllMocks();
    await t.close();
  });

  /** The close, or 'still open' when none came within 5 s (fails fast instead of at the test timeout). */
  const closeOf = (client: TestClient) => Promise.race([client.closed, sleep(5000).then(() => 'still open')]);

  async function failedReauth(client: TestClient, token: string, id: string): Promise<void> {
    client.send({ type: 'reauth', token, id });
    expect(await client.next()).toStrictEqual({ type: 'error', code: 'UNAUTHORIZED', message: expect.any(String), id });
  }

  it('10 failed reauths keep the connection open; the 11th is answered, then the connection is closed with 1008', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const bad = [
      t.token({ sub: 'alice' }, {}, 'not-the-secret-not-the-secret-not-the-secret'),
      t.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }),
      'not.a.jwt',
    ];
    for (let i = 0; i < 10; i++) await failedReauth(alice, bad[i % bad.length], `r${i}`);
    expect(await alice.request({ type: 'ping', id: 'alive' })).toStrictEqual({ type: 'pong', id: 'alive' });

    await failedReauth(alice, bad[0], 'r10');
    expect(await closeOf(alice)).toMatchObject({ code: 1008 });
    await t.until(() => t.eventsNamed('connection.closed').length === 1, 3000, 'connection.closed');
    expect(t.eventsNamed('connection.closed')[0]).toMatchObject({ code: 1008, cause: 'policy_violation', resumable: false });
  });

  it('failed reauths and BAD_REQUESTs share one counter: 5 + 5 keep it open, the 11th of either kind closes it', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    for (let i = 0; i < 5; i++) {
      await failedReauth(alice, 'not.a.jwt', `a${i}`);
      alice.send('{not json');
      expect(await alice.next()).toMatchObject({ type: 'error', code: 'BAD_REQUEST' });
    }
    expect(await alice.request({ type: 'ping', id: 'alive' })).toStrictEqual({ type: 'pong', id: 'alive' });
    await failedReauth(alice, 'not.a.jwt', 'last');
    expect(await closeOf(alice)).toMatchObject({ code: 1008 });
  });

  it('successful reauths do not count', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    for (let i = 0; i < 12; i++) expect(await alice.request({ type: 'reauth', token: t.token({ sub: 'alice' }) })).toMatchObject({ type: 'reauth_ok' });
    expect(await alice.request({ type: 'ping', id: 'alive' })).toStrictEqual({ type: 'pong', id: 'alive' });
  });

  it('a token over 8 KiB (even a valid one) gets UNAUTHORIZED without being verified; one of 8 KiB is verified', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    // Valid tokens of alice padded with a claim: the longest one of at most 8192 bytes, and the next.
    const padded = (n: number) => t.token({ sub: 'alice', pad: 'x'.repeat(n) });
    let n = 6000;
    while (padded(n + 1).length <= 8192) n++;
    const fits = padded(n);
    const tooLong = padded(n + 1);
    expect(fits.length).toBeLessThanOrEqual(8192);
    expect(tooLong.length).toBeGreaterThan(8192);

    const verify = vi.spyOn(t.get(JwtAuthenticator), 'verify');
    await failedReauth(alice, tooLong, 'long');
    expect(verify).not.toHaveBeenCalled();
    await failedReauth(alice, 'x'.repeat(60_000), 'huge');
    expect(verify).not.toHaveBeenCalled();
    expect(await alice.request({ type: 'reauth', token: fits, id: 'fits' })).toMatchObject({ type: 'reauth_ok', id: 'fits' });
    expect(verify).toHaveBeenCalledTimes(1);
  });
});
