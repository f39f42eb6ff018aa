import fc from 'fast-check';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { bearerToken, selectSubprotocol, subprotocolCredentials, upgradeAttemptOf, upgradePathOf } from './upgrade-request.js';

function req(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
}

/** The credentials upgradeAttemptOf reads off a request. */
function credentials(url: string, headers: Record<string, string> = {}) {
  const { token, reconnectToken, refusedCredentials } = upgradeAttemptOf(req(url, headers), 0);
  return { token, reconnectToken, refusedCredentials };
}

describe('bearerToken', () => {
  it('reads Authorization: Bearer (scheme case-insensitive); any other form is "" (refused as invalid)', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('Basic dTE6cHc=')).toBe('');
    expect(bearerToken('Bearer')).toBe('');
  });
});

describe('subprotocolCredentials', () => {
  it('reads canvas.auth.<jwt> and canvas.resume.<token> next to canvas.v1, in any order, ignoring other names', () => {
    expect(subprotocolCredentials('canvas.v1, canvas.auth.a.b.c')).toEqual({ token: 'a.b.c' });
    expect(subprotocolCredentials('canvas.resume.R,canvas.v1')).toEqual({ reconnectToken: 'R' });
    expect(subprotocolCredentials('graphql-ws, canvas.v1, canvas.auth.a.b.c, canvas.resume.R')).toEqual({ token: 'a.b.c', reconnectToken: 'R' });
    expect(subprotocolCredentials('canvas.v1')).toEqual({});
    expect(subprotocolCredentials(undefined)).toEqual({});
  });

  it('an empty JWT entry counts as absent (like ?token=); an empty reconnect token is kept (refused, like ?reconnectToken=)', () => {
    expect(subprotocolCredentials('canvas.v1, canvas.auth.')).toEqual({});
    expect(subprotocolCredentials('canvas.v1, canvas.resume.')).toEqual({ reconnectToken: '' });
  });

  it('two entries of one kind are ambiguous; credential entries without canvas.v1 are refused', () => {
    expect(subprotocolCredentials('canvas.v1, canvas.auth.a.b.c, canvas.auth.d.e.f').refused).toBe('ambiguous credentials');
    expect(subprotocolCredentials('canvas.v1, canvas.resume.R, canvas.resume.S').refused).toBe('ambiguous credentials');
    expect(subprotocolCredentials('canvas.auth.a.b.c').refused).toMatch(/canvas\.v1/);
    expect(subprotocolCredentials('canvas.v2, canvas.resume.R').refused).toMatch(/canvas\.v1/);
  });

  it('names are case-sensitive (RFC 6455): CANVAS.AUTH.x is not a credential entry', () => {
    expect(subprotocolCredentials('canvas.v1, CANVAS.AUTH.a.b.c')).toEqual({});
  });
});

describe('upgradeAttemptOf: which credential wins', () => {
  const proto = (value: string) => ({ 'sec-websocket-protocol': value });

  it('JWT: Authorization header > subprotocol entry > ?token=', () => {
    expect(credentials('/ws?token=q', { authorization: 'Bearer h', ...proto('canvas.v1, canvas.auth.s') }).token).toBe('h');
    expect(credentials('/ws?token=q', proto('canvas.v1, canvas.auth.s')).token).toBe('s');
    expect(credentials('/ws?token=q').token).toBe('q');
    expect(credentials('/ws?token=').token).toBeUndefined();
    expect(credentials('/ws').token).toBeUndefined();
  });

  it('an unusable Authorization header still wins: "" (refused), never the weaker credential behind it', () => {
    expect(credentials('/ws?token=q', { authorization: 'Basic dTE6cHc=', ...proto('canvas.v1, canvas.auth.s') }).token).toBe('');
  });

  it('reconnect token: subprotocol entry > ?reconnectToken=', () => {
    expect(credentials('/ws?reconnectToken=q', proto('canvas.v1, canvas.resume.s')).reconnectToken).toBe('s');
    expect(credentials('/ws?reconnectToken=q').reconnectToken).toBe('q');
    expect(credentials('/ws').reconnectToken).toBeUndefined();
  });

  it('unusable subprotocol credentials are reported for a 401, whatever else came along', () => {
    expect(credentials('/ws?token=q', { authorization: 'Bearer h', ...proto('canvas.v1, canvas.auth.a, canvas.auth.b') }).refusedCredentials).toBe(
      'ambiguous credentials',
    );
    expect(credentials('/ws?token=q').refusedCredentials).toBeUndefined();
  });
});

describe('selectSubprotocol', () => {
  it('selects exactly canvas.v1, never a credential entry, even one offered first', () => {
    expect(selectSubprotocol(new Set(['canvas.auth.a.b.c', 'canvas.v1']))).toBe('canvas.v1');
    expect(selectSubprotocol(new Set(['canvas.resume.R']))).toBe(false);
    expect(selectSubprotocol(new Set(['graphql-ws']))).toBe(false);
  });
});

/** Strings over the characters that matter to URL parsing (separators, escapes, dots, slashes). */
const urlish = fc.stringMatching(/^[a-zA-Z0-9=&%+./\\#?~_ -]{0,24}$/);

describe('the lean query and path readers (issue 15) read what the WHATWG URL parser reads', () => {
  it('token, reconnectToken and positions equal new URL(...).searchParams, for any query', () => {
    fc.assert(
      fc.property(urlish, (query) => {
        const url = `/ws?${query}`;
        const params = new URL(url, 'ws://h/').searchParams;
        const attempt = upgradeAttemptOf(req(url), 0);
        const token = params.get('token');
        expect(attempt.token).toBe(token === null || token === '' ? undefined : token);
        expect(attempt.reconnectToken).toBe(params.get('reconnectToken') ?? undefined);
        expect(attempt.positions === undefined && attempt.refusedPositions === undefined).toBe(params.get('positions') === null);
      }),
      { numRuns: 2000 },
    );
  });

  it('the first of repeated names wins, a name without "=" is empty, escapes and "+" are decoded', () => {
    expect(credentials('/ws?token=a&token=b').token).toBe('a');
    expect(credentials('/ws?reconnectToken').reconnectToken).toBe('');
    expect(credentials('/ws?x=1&&token=a%2Eb+c').token).toBe('a.b c');
    expect(credentials('/ws?tokens=a&token=b').token).toBe('b');
  });

  it('upgradePathOf equals new URL(...).pathname, for any request target (and throws where it throws)', () => {
    fc.assert(
      fc.property(urlish, (target) => {
        const url = `/${target}`;
        let expected: string | undefined;
        try {
          expected = new URL(url, 'ws://localhost/').pathname;
        } catch {
          expected = undefined;
        }
        if (expected === undefined) expect(() => upgradePathOf(req(url))).toThrow();
        else expect(upgradePathOf(req(url))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
