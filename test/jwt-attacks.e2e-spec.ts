import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { TEST_SECRET, TestApp } from './support/test-app.js';
import type { Refusal, ServerFrame } from './support/test-client.js';

/**
 * JWT attacks on the upgrade beyond the basic refusals (alg none, wrong secret and expiry are
 * in the upgrade-* specs): algorithm confusion, exp/nbf at the edges of the clock tolerance,
 * oversized tokens and headers, and what refusals and error frames may reveal.
 */

const { publicKey, privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Math.floor(Date.now() / 1000);
const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An HS256 token HMAC'd with any key material (here: the RSA public key, the classic confusion). */
function hs256(payload: object, key: string | Buffer): string {
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}
const claims = () => ({ sub: 'mallory', tenantId: 't1', exp: nowS() + 3600 });
const rs256 = (payload: object = claims()) => jwt.sign(payload, privateKey, { algorithm: 'RS256' });

/** What a refusal or an error frame may never contain: stack frames, file paths, library internals. */
const INTERNALS =
  /\n\s*at |\bat .+:\d+:\d+|node_modules|[\w-]+\.(?:[cm]?js|ts)\b|\/(?:work|home|usr|app|src)\/|jsonwebtoken|JsonWebTokenError|TokenExpiredError|NotBeforeError|invalid signature|jwt malformed|jwt expired|invalid algorithm|secret or public key|PEM|BEGIN PUBLIC KEY|Error:/i;

function expectCleanRefusal(r: Refusal, status: number, token?: string): void {
  expect(r.status).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
  expect(r.body).toStrictEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
  const text = JSON.stringify(r.body);
  expect(text).not.toMatch(INTERNALS);
  if (token) for (const part of token.split('.').filter((p) => p.length >= 8)) expect(text, 'the refusal echoes the token').not.toContain(part);
}

function expectCleanErrorFrame(f: ServerFrame, token?: string): void {
  expect(Object.keys(f).sort()).toEqual(f.id === undefined ? ['code', 'message', 'type'] : ['code', 'id', 'message', 'type']);
  expect(f.message.length).toBeLessThan(200);
  expect(f.message).not.toMatch(INTERNALS);
  if (token) for (const part of token.split('.').filter((p) => p.length >= 8)) expect(f.message).not.toContain(part);
}

/** Waits until early in a wall-clock second, so a token made now is verified within the same second. */
async function alignToSecond(): Promise<number> {
  const ms = Date.now() % 1000;
  if (ms > 200) await sleep(1000 - ms + 10);
  return nowS();
}

describe('JWT attacks on the upgrade', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it('algorithm confusion: with RS256 configured, an HS256 token HMAC-signed with the RSA public key is refused (401)', async () => {
    t = await TestApp.create({ options: { jwt: { algorithms: ['RS256'], publicKey } } });
    expect((await t.connect(rs256())).ack).toMatchObject({ userId: 'mallory' }); // control: the real key works
    const der = createPublicKey(publicKey).export({ type: 'spki', format: 'der' });
    for (const key of [publicKey, publicKey.trim(), der]) {
      const forged = hs256(claims(), key);
      expectCleanRefusal(await t.refusal(`?token=${forged}`), 401, forged);
      expectCleanRefusal(await t.refusal('', { Authorization: `Bearer ${forged}` }), 401, forged);
    }
    expect(t.get(ConnectionService).count).toBe(1);
  });

  it('algorithm confusion with both HS256 and RS256 allowed: an HS256 token keyed with the public key is refused, real tokens of both kinds pass', async () => {
    t = await TestApp.create({ options: { jwt: { algorithms: ['HS256', 'RS256'], secret: TEST_SECRET, publicKey } } });
    const forged = hs256(claims(), publicKey);
    expectCleanRefusal(await t.refusal(`?token=${forged}`), 401, forged);
    await t.connect(rs256());
    await t.connect(t.token({ sub: 'hs-user' }));
    expect(t.get(ConnectionService).count).toBe(2);
  });

  it('algorithm confusion over reauth: the forged token gets an UNAUTHORIZED frame, the connection and identity stay as they were', async () => {
    t = await TestApp.create({ options: { jwt: { algorithms: ['RS256'], publicKey } } });
    const client = await t.connect(rs256({ sub: 'alice', tenantId: 't1', exp: nowS() + 3600 }));
    const forged = hs256({ sub: 'alice', tenantId: 't1', exp: nowS() + 7200 }, publicKey);
    const reply = await client.request({ type: 'reauth', token: forged, id: 'ra' });
    expect(reply).toStrictEqual({ type: 'error', code: 'UNAUTHORIZED', message: expect.any(String), id: 'ra' });
    expectCleanErrorFrame(reply, forged);
    expect(await client.request({ type: 'ping', id: 'still' })).toStrictEqual({ type: 'pong', id: 'still' });
    expect(t.eventsNamed('auth.reauthenticated')).toEqual([]);
  });

  it('exp and nbf at the edges of clockToleranceS = 5: inside by 1 s passes, outside by 1 s is refused', async () => {
    t = await TestApp.create({ options: { jwt: { secret: TEST_SECRET, clockToleranceS: 5 } } });
    await t.connect(); // warm-up, so the timed attempts below are fast
    let now = await alignToSecond();
    await t.connect(t.token({ sub: 'exp-inside', exp: now - 5 + 1 }));
    now = await alignToSecond();
    const expOutside = t.token({ sub: 'exp-outside', exp: now - 5 - 1 });
    const r1 = await t.refusal(`?token=${expOutside}`);
    expectCleanRefusal(r1, 401, expOutside);
    expect(r1.body.error.message).toBe('token expired');
    now = await alignToSecond();
    await t.connect(t.token({ sub: 'nbf-inside', nbf: now + 5 - 1 }));
    now = await alignToSecond();
    const nbfOutside = t.token({ sub: 'nbf-outside', nbf: now + 5 + 1 });
    const r2 = await t.refusal(`?token=${nbfOutside}`);
    expectCleanRefusal(r2, 401, nbfOutside);
    expect(r2.body.error.message).toBe('token not yet valid');
    expect(
      t
        .eventsNamed('connection.established')
        .map((e) => e.userId)
        .sort(),
    ).toEqual(['exp-inside', 'nbf-inside', 'u1']);
  });

  it('an oversized token (20 KB, validly signed) in the query string is refused with 431 before it is processed; no socket opens', async () => {
    t = await TestApp.create();
    const big = t.token({ sub: 'big', pad: 'x'.repeat(20_000) });
    const r = await t.refusal(`?token=${big}`);
    expect([431, 401]).toContain(r.status);
    expect(r.status).toBe(431); // Node's 16 KiB header limit answers before the module sees the request
    expect(JSON.stringify(r.body)).not.toContain(big.slice(0, 40));
    expect(t.get(ConnectionService).count).toBe(0);
    expect(t.eventsNamed('connection.established')).toEqual([]);
    // The server is unharmed.
    expect((await t.connect()).ack.type).toBe('connection_ack');
  });

  it('an oversized Authorization header (20 KB) is refused with 431; a big header under the limit with a bad token gets a clean 401', async () => {
    t = await TestApp.create();
    const r = await t.refusal('', { Authorization: `Bearer ${'a'.repeat(20_000)}` });
    expect(r.status).toBe(431);
    const padded = `${'A'.repeat(12_000)}.${'B'.repeat(100)}.${'C'.repeat(43)}`;
    expectCleanRefusal(await t.refusal('', { Authorization: `Bearer ${padded}` }), 401, padded);
    expect(t.get(ConnectionService).count).toBe(0);
  });

  it('401 bodies never carry the token, a stack trace or library internals, whatever the token', async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 1000 } });
    const n = nowS();
    const bad = [
      'not-a-jwt',
      'a.b.c',
      `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`,
      `${b64url({ alg: 'HS256' })}.${Buffer.from('{"sub":').toString('base64url')}.sig`, // payload is not JSON
      `${Buffer.from('{not json').toString('base64url')}.${b64url(claims())}.c2lnbmF0dXJl`,
      t.token({ sub: 'x' }, {}, 'another-secret-that-is-long-enough!!'),
      t.token({ sub: 'x', exp: n - 10 }),
      t.token({ sub: 'x', nbf: n + 600 }),
      t.token({ sub: '', tenantId: 't1' }),
      t.token({ sub: 'x', tenantId: undefined }),
      t.token({ sub: 'x', canvases: 'c1' }),
      t.token({ sub: 'x' }, { algorithm: 'HS512' }),
      hs256({ ...claims(), exp: Number.POSITIVE_INFINITY }, TEST_SECRET),
      `${t.token()}x`,
    ];
    for (const token of bad) {
      expectCleanRefusal(await t.refusal(`?token=${encodeURIComponent(token)}`), 401, token);
      expectCleanRefusal(await t.refusal('', { Authorization: `Bearer ${token}` }), 401, token);
    }
    expectCleanRefusal(await t.refusal(''), 401);
    expectCleanRefusal(await t.refusal('', { Authorization: 'Basic dXNlcjpwYXNz' }), 401);
  });

  it('error frames never carry stack traces or internals (a sample of every code a client can provoke)', async () => {
    t = await TestApp.create({ options: { messageRateLimit: 20, badFrameLimit: 1000 } });
    const client = await t.connect();
    const frames: ServerFrame[] = [];
    const bad = [t.token({}, {}, 'wrong-secret-wrong-secret-wrong-secret'), 'garbage', t.token({ exp: nowS() - 60 }), hs256(claims(), 'x')];
    for (const [i, token] of bad.entries()) {
      const f = await client.request({ type: 'reauth', token, id: `ra${i}` });
      expect(f.code).toBe('UNAUTHORIZED');
      expectCleanErrorFrame(f, token);
    }
    for (const raw of [
      '{',
      '[]',
      '{"type":1}',
      '{"type":"nope"}',
      '{"type":"join"}',
      '{"type":"join","canvasId":"bad id"}',
      '{"type":"message","canvasId":"c1"}',
      `{"type":"ping","id":"${'x'.repeat(65)}"}`,
      '\u0000',
    ]) {
      client.send(raw);
      frames.push(await client.next('error'));
    }
    client.send(Buffer.from([1, 2, 3]), true);
    frames.push(await client.next('error'));
    frames.push(await client.request({ type: 'leave', canvasId: 'c9' }), await client.request({ type: 'message', canvasId: 'c9', data: 1 }));
    await sleep(1100); // a fresh rate window
    for (let i = 0; i < 25; i++) client.send({ type: 'ping', id: `p${i}` });
    const limited = await client.next('error');
    expect(limited.code).toBe('RATE_LIMITED');
    frames.push(limited);
    expect(new Set(frames.map((f) => f.code))).toEqual(new Set(['BAD_REQUEST', 'NOT_IN_ROOM', 'RATE_LIMITED']));
    for (const f of frames) expectCleanErrorFrame(f);
  });
});
