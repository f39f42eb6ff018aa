import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { credentialSubprotocols } from '../src/protocol/subprotocol.js';
import { TestApp } from './support/test-app.js';
import type { Refusal } from './support/test-client.js';
import { algNoneToken, baseClaims, expectNoConnectionOpened, expectRefusal } from './support/upgrade-refusal.js';

/**
 * Credentials out of URLs (issue 12 §6): the client offers `canvas.v1` plus `canvas.auth.<jwt>`
 * or `canvas.resume.<reconnectToken>` in `Sec-WebSocket-Protocol`. The server selects exactly
 * `canvas.v1` (never echoes a credential), treats each entry exactly like `?token=` /
 * `?reconnectToken=` (same refusals, same order), and the precedence is
 * Authorization header > subprotocol entry > query parameter.
 */
describe('upgrade: credentials in Sec-WebSocket-Protocol', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const auth = (token: string) => credentialSubprotocols({ token });
  const resume = (reconnectToken: string) => credentialSubprotocols({ reconnectToken });
  const header = (protocols: string[]) => ({ 'Sec-WebSocket-Protocol': protocols.join(', ') });

  /** Opens with `protocols` offered; resolves with the acked client and the subprotocol the server selected. */
  async function open(app: TestApp, protocols: string[]) {
    const client = await app.connect(null, { protocols });
    return { client, selected: client.ws.protocol };
  }

  it('a JWT in canvas.auth.<jwt> logs in; the response selects exactly canvas.v1, also when the credential is offered first', async () => {
    t = await TestApp.create();
    const jwt = t.token({ sub: 'alice' });
    for (const protocols of [auth(jwt), [...auth(jwt)].reverse()]) {
      const responses: Array<string | string[] | undefined> = [];
      const ws = new WebSocket(t.url, protocols);
      ws.once('upgrade', (res) => responses.push(res.headers['sec-websocket-protocol']));
      const ack = await new Promise<any>((resolve, reject) => {
        ws.once('message', (data) => resolve(JSON.parse(data.toString())));
        ws.once('error', reject);
      });
      expect(ack).toMatchObject({ type: 'connection_ack', userId: 'alice', resumed: false });
      expect(responses, 'the selected subprotocol').toEqual(['canvas.v1']);
      expect(ws.protocol).toBe('canvas.v1');
      ws.terminate();
    }
    expect(t.eventsNamed('connection.established')).toHaveLength(2);
  });

  it('a reconnect token in canvas.resume.<token> resumes the session; used once, then 401 like ?reconnectToken=', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    await alice.join('c1');
    await alice.close(1001);
    await t.until(() => t!.eventsNamed('connection.closed').length === 1, 3000, 'the close');

    const { client: back, selected } = await open(t, resume(alice.ack.reconnectToken));
    expect(selected).toBe('canvas.v1');
    expect(back.ack).toMatchObject({ resumed: true, sessionId: alice.ack.sessionId, userId: 'alice', rooms: ['c1'] });
    expectRefusal(await t.refusal('', header(resume(alice.ack.reconnectToken))), 401, 'UNAUTHORIZED', [alice.ack.reconnectToken]);
  });

  it('every refusal of ?token= is the same refusal (status, code, message) in canvas.auth.<jwt>', async () => {
    t = await TestApp.create();
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      t.token({}, {}, 'another-secret-that-is-also-long-enough'),
      t.token({ exp: now - 60 }),
      t.token({ nbf: now + 600 }),
      t.token({ sub: undefined }),
      algNoneToken(baseClaims()),
      'not-a-jwt',
    ];
    for (const token of bad) {
      const viaQuery = await t.refusal(`?token=${encodeURIComponent(token)}`);
      const viaProtocol = await t.refusal('', header(auth(token)));
      expectRefusal(viaProtocol, 401, 'UNAUTHORIZED', [token]);
      expect(viaProtocol.body).toEqual(viaQuery.body);
    }
    // No credential at all: canvas.v1 alone is no credential.
    expectRefusal(await t.refusal('', header(['canvas.v1'])), 401, 'UNAUTHORIZED');
    expectNoConnectionOpened(t);
  });

  it('same order as the query parameter: a bad Origin answers 403 and a full instance 503 before the credential is looked at', async () => {
    t = await TestApp.create({ options: { allowedOrigins: ['https://app.example.com'], maxConnections: 1 } });
    const valid = t.token();
    const garbage = 'not-a-jwt';
    expectRefusal(await t.refusal('', { ...header(auth(garbage)), Origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
    expectRefusal(await t.refusal('', { ...header(auth(valid)), Origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
    await t.connect(null, { protocols: auth(valid), headers: { Origin: 'https://app.example.com' } });
    expectRefusal(await t.refusal('', { ...header(auth(garbage)), Origin: 'https://app.example.com' }), 503, 'SERVER_FULL');
  });

  it('precedence: Authorization header > canvas.auth entry > ?token=; an invalid entry is refused, never skipped for the query', async () => {
    t = await TestApp.create();
    const fromHeader = await t.connect(null, {
      protocols: auth(t.token({ sub: 'proto' })),
      headers: { Authorization: `Bearer ${t.token({ sub: 'header' })}` },
    });
    expect(fromHeader.ack.userId).toBe('header');
    const fromProtocol = await t.connect(null, { protocols: auth(t.token({ sub: 'proto' })), query: `token=${t.token({ sub: 'query' })}` });
    expect(fromProtocol.ack.userId).toBe('proto');
    const invalid: Refusal = await t.refusal(`?token=${t.token({ sub: 'query' })}`, header(auth('not-a-jwt')));
    expectRefusal(invalid, 401, 'UNAUTHORIZED');
  });

  it('precedence for resumes: canvas.resume entry > ?reconnectToken=', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    const bob = await t.connect({ sub: 'bob' });
    await alice.close(1001);
    await bob.close(1001);
    await t.until(() => t!.eventsNamed('connection.closed').length === 2, 3000, 'both closes');
    const back = await t.connect(null, { protocols: resume(alice.ack.reconnectToken), query: `reconnectToken=${bob.ack.reconnectToken}` });
    expect(back.ack).toMatchObject({ resumed: true, userId: 'alice', sessionId: alice.ack.sessionId });
    // Bob's token was not used up by the attempt that carried it in the (losing) query.
    const bobBack = await t.resume(bob.ack.reconnectToken);
    expect(bobBack.ack).toMatchObject({ resumed: true, userId: 'bob' });
  });

  it('a JWT of another user next to canvas.resume: 401, and the reconnect token still works (as with the query)', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    await alice.close(1001);
    await t.until(() => t!.eventsNamed('connection.closed').length === 1, 3000, 'the close');
    const both = ['canvas.v1', `canvas.resume.${alice.ack.reconnectToken}`, `canvas.auth.${t.token({ sub: 'mallory' })}`];
    expectRefusal(await t.refusal('', header(both)), 401, 'UNAUTHORIZED');
    const back = await t.connect(null, { protocols: resume(alice.ack.reconnectToken) });
    expect(back.ack).toMatchObject({ resumed: true, userId: 'alice' });
  });

  it('two credential entries of one kind: 401 "ambiguous credentials", even with a valid Authorization header', async () => {
    t = await TestApp.create();
    const two = ['canvas.v1', `canvas.auth.${t.token({ sub: 'a' })}`, `canvas.auth.${t.token({ sub: 'b' })}`];
    const r = await t.refusal('', header(two));
    expectRefusal(r, 401, 'UNAUTHORIZED');
    expect(r.body.error.message).toBe('ambiguous credentials');
    expectRefusal(await t.refusal('', { ...header(['canvas.v1', 'canvas.resume.A', 'canvas.resume.B']) }), 401, 'UNAUTHORIZED');
    expect((await t.refusal('', { ...header(two), Authorization: `Bearer ${t.token()}` })).body.error.message).toBe('ambiguous credentials');
    expectNoConnectionOpened(t);
  });

  it('credential entries without canvas.v1: 401 before any session is made (a browser would fail that handshake anyway)', async () => {
    t = await TestApp.create();
    const r = await t.refusal('', header([`canvas.auth.${t.token()}`]));
    expectRefusal(r, 401, 'UNAUTHORIZED');
    expect(r.body.error.message).toMatch(/canvas\.v1/);
    expectNoConnectionOpened(t);
  });

  it('a client that offers no subprotocol gets none selected (query-string clients are unchanged)', async () => {
    t = await TestApp.create();
    const alice = await t.connect({ sub: 'alice' });
    expect(alice.ws.protocol).toBe('');
  });
});
