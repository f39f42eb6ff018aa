import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SECRET, TestApp } from './support/test-app.js';
import { baseClaims, expectNoConnectionOpened, expectRefusal, hs256TokenWithKey } from './support/upgrade-refusal.js';

/**
 * Row 4 of the refusal table (401 UNAUTHORIZED), verification settings: issuer and audience
 * when configured, RS256 with a public key (and no algorithm confusion), and where the
 * credential is read from (the Authorization header wins over the `token` parameter).
 */
describe('upgrade: issuer, audience, keys and credential source', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const q = (token: string) => `?token=${encodeURIComponent(token)}`;

  describe('issuer and audience', () => {
    const jwtOptions = { secret: TEST_SECRET, issuer: 'https://idp.example.com', audience: 'canvas-rt' };

    it('a token with the configured iss and aud passes; aud may be an array with one match', async () => {
      t = await TestApp.create({ options: { jwt: jwtOptions } });
      const a = await t.connect(t.token({}, { issuer: 'https://idp.example.com', audience: 'canvas-rt' }));
      expect(a.ack.type).toBe('connection_ack');
      const b = await t.connect(t.token({}, { issuer: 'https://idp.example.com', audience: ['billing', 'canvas-rt'] }));
      expect(b.ack.type).toBe('connection_ack');
    });

    it('wrong or missing issuer → 401', async () => {
      t = await TestApp.create({ options: { jwt: jwtOptions } });
      for (const token of [t.token({}, { issuer: 'https://evil.example.com', audience: 'canvas-rt' }), t.token({}, { audience: 'canvas-rt' })]) {
        expectRefusal(await t.refusal(q(token)), 401, 'UNAUTHORIZED', [token]);
      }
      expectNoConnectionOpened(t);
    });

    it('wrong, missing or non-matching array audience → 401', async () => {
      t = await TestApp.create({ options: { jwt: jwtOptions } });
      const tokens = [
        t.token({}, { issuer: 'https://idp.example.com', audience: 'billing' }),
        t.token({}, { issuer: 'https://idp.example.com' }),
        t.token({}, { issuer: 'https://idp.example.com', audience: ['billing', 'reports'] }),
      ];
      for (const token of tokens) expectRefusal(await t.refusal(q(token)), 401, 'UNAUTHORIZED', [token]);
      expectNoConnectionOpened(t);
    });

    it('iss and aud are not checked when not configured', async () => {
      t = await TestApp.create();
      const client = await t.connect(t.token({}, { issuer: 'anyone', audience: 'anything' }));
      expect(client.ack.type).toBe('connection_ack');
    });
  });

  describe('RS256 with a public key', () => {
    let publicKey: string;
    let privateKey: string;
    let otherPrivateKey: string;
    beforeAll(() => {
      ({ publicKey, privateKey } = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      }));
      otherPrivateKey = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      }).privateKey;
    });

    const rsApp = () => TestApp.create({ options: { jwt: { publicKey, algorithms: ['RS256'] } } });

    it('an RS256 token signed with the private key passes', async () => {
      t = await rsApp();
      const client = await t.connect(jwt.sign(baseClaims({ sub: 'rsa-user' }), privateKey, { algorithm: 'RS256' }));
      expect(client.ack).toMatchObject({ userId: 'rsa-user', tenantId: 't1' });
    });

    it('the public key given with \\n escapes (one env line) works too', async () => {
      t = await TestApp.create({ options: { jwt: { publicKey: publicKey.replace(/\n/g, '\\n'), algorithms: ['RS256'] } } });
      const client = await t.connect(jwt.sign(baseClaims(), privateKey, { algorithm: 'RS256' }));
      expect(client.ack.type).toBe('connection_ack');
    });

    it('algorithm confusion: HS256 signed with the PEM public key as HMAC secret → 401', async () => {
      t = await rsApp();
      for (const key of [publicKey, publicKey.trim()]) {
        const forged = hs256TokenWithKey(baseClaims(), key);
        expectRefusal(await t.refusal(q(forged)), 401, 'UNAUTHORIZED', [forged]);
      }
      expectNoConnectionOpened(t);
    });

    it('an RS256 token signed with another private key, or an HS256 token → 401', async () => {
      t = await rsApp();
      expectRefusal(await t.refusal(q(jwt.sign(baseClaims(), otherPrivateKey, { algorithm: 'RS256' }))), 401, 'UNAUTHORIZED');
      expectRefusal(await t.refusal(q(t.token())), 401, 'UNAUTHORIZED');
      expectRefusal(await t.refusal(q(jwt.sign(baseClaims(), privateKey, { algorithm: 'RS512' }))), 401, 'UNAUTHORIZED');
      expectNoConnectionOpened(t);
    });
  });

  describe('credential source', () => {
    it('Authorization: Bearer is accepted', async () => {
      t = await TestApp.create();
      const client = await t.connect(null, { headers: { Authorization: `Bearer ${t.token({ sub: 'hdr' })}` } });
      expect(client.ack.userId).toBe('hdr');
    });

    it('the header wins: valid header + garbage token parameter → accepted', async () => {
      t = await TestApp.create();
      const client = await t.connect(null, { headers: { Authorization: `Bearer ${t.token({ sub: 'hdr' })}` }, query: 'token=garbage' });
      expect(client.ack.userId).toBe('hdr');
    });

    it('the header wins: garbage header + valid token parameter → 401', async () => {
      t = await TestApp.create();
      const r = await t.refusal(q(t.token({ sub: 'query' })), { Authorization: 'Bearer garbage' });
      expectRefusal(r, 401, 'UNAUTHORIZED');
      expectNoConnectionOpened(t);
    });

    it('both valid: the identity comes from the header', async () => {
      t = await TestApp.create();
      const client = await t.connect({ sub: 'query' }, { headers: { Authorization: `Bearer ${t.token({ sub: 'hdr' })}` } });
      expect(client.ack.userId).toBe('hdr');
    });
  });
});
