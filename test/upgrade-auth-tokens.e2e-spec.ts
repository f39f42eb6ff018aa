import { afterEach, describe, expect, it } from 'vitest';
import { TEST_SECRET, TestApp } from './support/test-app.js';
import { algNoneToken, baseClaims, hs256TokenWithKey, expectNoConnectionOpened, expectRefusal } from './support/upgrade-refusal.js';

/**
 * Row 4 of the refusal table (401 UNAUTHORIZED), token contents: no credential; malformed,
 * unsigned, badly signed, wrong-alg or expired JWTs; missing exp, sub or tenant claim; a bad
 * `canvases` claim. Messages never carry a stack trace or the token.
 */
describe('upgrade: 401 UNAUTHORIZED for bad tokens', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const now = () => Math.floor(Date.now() / 1000);
  const q = (token: string) => `?token=${encodeURIComponent(token)}`;

  async function expect401(app: TestApp, token: string | undefined, headers: Record<string, string> = {}): Promise<void> {
    const r = await app.refusal(token === undefined ? '' : q(token), headers);
    expectRefusal(r, 401, 'UNAUTHORIZED', token && token.length > 8 ? [token] : []);
    expectNoConnectionOpened(app);
  }

  it('no credential at all, an empty token parameter, or a non-Bearer Authorization header', async () => {
    t = await TestApp.create();
    await expect401(t, undefined);
    await expect401(t, '');
    await expect401(t, undefined, { Authorization: `Basic ${Buffer.from('u1:pw').toString('base64')}` });
    await expect401(t, undefined, { Authorization: 'Bearer' });
  });

  it('malformed tokens', async () => {
    t = await TestApp.create();
    for (const token of ['not-a-jwt', 'a.b.c', 'a.b', '...', `${t.token()}x`, t.token().split('.').slice(0, 2).join('.')]) {
      await expect401(t, token);
    }
  });

  it('a token signed with another secret', async () => {
    t = await TestApp.create();
    await expect401(t, t.token({}, {}, 'another-secret-that-is-also-long-enough'));
  });

  it('an unsigned token (alg: none, built by hand) is never accepted', async () => {
    t = await TestApp.create();
    await expect401(t, algNoneToken(baseClaims()));
    // Even carrying the signature of a valid token.
    const valid = t.token().split('.');
    await expect401(t, `${algNoneToken(baseClaims()).slice(0, -1)}.${valid[2]}`);
  });

  it('an algorithm outside the allow-list (HS384 with the right secret, HS256 allowed)', async () => {
    t = await TestApp.create();
    await expect401(t, t.token({}, { algorithm: 'HS384' }));
  });

  it('an expired token', async () => {
    t = await TestApp.create();
    await expect401(t, t.token({ exp: now() - 5 }));
  });

  it('clockToleranceS lets a recently expired token pass, but not an older one', async () => {
    t = await TestApp.create({ options: { jwt: { secret: TEST_SECRET, clockToleranceS: 60 } } });
    const client = await t.connect({ sub: 'late', exp: now() - 5 });
    expect(client.ack.userId).toBe('late');
    const r = await t.refusal(q(t.token({ exp: now() - 600 })));
    expectRefusal(r, 401, 'UNAUTHORIZED');
  });

  it('nbf in the future → 401; within clockToleranceS it passes', async () => {
    t = await TestApp.create();
    await expect401(t, t.token({ nbf: now() + 120 }));
    await t.close();
    t = await TestApp.create({ options: { jwt: { secret: TEST_SECRET, clockToleranceS: 60 } } });
    const client = await t.connect({ nbf: now() + 20 });
    expect(client.ack.type).toBe('connection_ack');
  });

  it('a token without exp', async () => {
    t = await TestApp.create();
    // Control: the hand-built token with exp is accepted, so the refusals below are about exp.
    expect((await t.connect(hs256TokenWithKey(baseClaims(), TEST_SECRET))).ack.type).toBe('connection_ack');
    await t.close();
    t = await TestApp.create();
    await expect401(t, t.token({}, { noTimestamp: true }));
    await expect401(t, hs256TokenWithKey(baseClaims({ exp: undefined }), TEST_SECRET));
    await expect401(t, hs256TokenWithKey(baseClaims({ exp: String(now() + 3600) }), TEST_SECRET));
  });

  it('missing, empty or non-string sub', async () => {
    t = await TestApp.create();
    await expect401(t, t.token({ sub: undefined }));
    await expect401(t, t.token({ sub: '' }));
    await expect401(t, t.token({ sub: 42 }));
  });

  it('missing, empty or non-string tenant claim', async () => {
    t = await TestApp.create();
    await expect401(t, t.token({ tenantId: undefined }));
    await expect401(t, t.token({ tenantId: '' }));
    await expect401(t, t.token({ tenantId: 7 }));
    await expect401(t, t.token({ tenantId: ['t1'] }));
  });

  it("a custom tenantClaim ('org') is honoured: it names the tenant and tenantId alone is not enough", async () => {
    t = await TestApp.create({ options: { jwt: { secret: TEST_SECRET, tenantClaim: 'org' } } });
    const client = await t.connect({ tenantId: undefined, org: 'acme' });
    expect(client.ack).toMatchObject({ userId: 'u1', tenantId: 'acme' });
    const r = await t.refusal(q(t.token({ tenantId: 't1' })));
    expectRefusal(r, 401, 'UNAUTHORIZED');
    const r2 = await t.refusal(q(t.token({ org: '' })));
    expectRefusal(r2, 401, 'UNAUTHORIZED');
  });

  it('a canvases claim that is not an array of strings', async () => {
    t = await TestApp.create();
    for (const canvases of ['c1', ['c1', 2], [null], { c1: true }, 5]) {
      await expect401(t, t.token({ canvases }));
    }
    const ok = await t.connect({ canvases: ['c1', 'c2'] });
    expect(ok.ack.type).toBe('connection_ack');
    const empty = await t.connect({ canvases: [] });
    expect(empty.ack.type).toBe('connection_ack');
  });
});
