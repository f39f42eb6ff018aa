import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { REDACTED, REDACT_PATHS, redactUrl, scrubText } from './log-redaction.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

describe('redactUrl', () => {
  it('replaces token and reconnectToken values and keeps every other parameter', () => {
    expect(redactUrl(`/ws?token=${JWT}&page=2&reconnectToken=abc`)).toBe(`/ws?token=${REDACTED}&page=2&reconnectToken=${REDACTED}`);
  });

  it('matches names case-insensitively and percent-decoded', () => {
    expect(redactUrl('/ws?TOKEN=a&%74oken=b&access_token=c')).toBe(`/ws?TOKEN=${REDACTED}&%74oken=${REDACTED}&access_token=${REDACTED}`);
  });

  it('leaves URLs without credentials alone, drops fragments, and does not touch look-alike names', () => {
    expect(redactUrl('/health/ready')).toBe('/health/ready');
    expect(redactUrl('/x?tokens=1&mytoken=2')).toBe('/x?tokens=1&mytoken=2');
    expect(redactUrl('/x?a=1#token=z')).toBe('/x?a=1');
  });

  it('redacts a valueless or empty parameter too', () => {
    expect(redactUrl('/ws?token=&token')).toBe(`/ws?token=${REDACTED}&token=${REDACTED}`);
  });
});

describe('scrubText', () => {
  it('scrubs query credentials inside free text', () => {
    expect(scrubText(`GET wss://h/ws?x=1&token=${JWT} failed`)).toBe(`GET wss://h/ws?x=1&token=${REDACTED} failed`);
    expect(scrubText('resume with reconnectToken=AbC_123-x')).toBe(`resume with reconnectToken=${REDACTED}`);
  });

  it('scrubs Bearer credentials and bare JWTs', () => {
    expect(scrubText('Authorization: Bearer abc.def-ghi')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(scrubText(`token was ${JWT}.`)).toBe(`token was ${REDACTED}.`);
  });

  it('scrubs credential entries of Sec-WebSocket-Protocol, keeping canvas.v1 and the prefix', () => {
    expect(scrubText(`protocols: canvas.v1, canvas.auth.${JWT}`)).toBe(`protocols: canvas.v1, canvas.auth.${REDACTED}`);
    expect(scrubText('"canvas.resume.AbC_123-xyz", other')).toBe(`"canvas.resume.${REDACTED}", other`);
  });

  it('leaves ordinary text alone', () => {
    const text = 'connection closed: heartbeat_timeout (tokens are fine to mention)';
    expect(scrubText(text)).toBe(text);
  });
});

describe('REDACT_PATHS', () => {
  it('censors every credential-bearing header of a logged request, Sec-WebSocket-Protocol (canvas.auth.<jwt>) included', () => {
    const lines: string[] = [];
    const log = pino({ redact: { paths: [...REDACT_PATHS], censor: REDACTED } }, { write: (s: string) => void lines.push(s) });
    const headers = {
      authorization: `Bearer ${JWT}`,
      'sec-websocket-protocol': `canvas.v1, canvas.auth.${JWT}`,
      'proxy-authorization': `Bearer ${JWT}`,
      cookie: `s=${JWT}`,
      host: 'h',
    };
    log.info({ req: { headers } }, 'upgrade');
    const line = JSON.parse(lines.join('')) as { req: { headers: Record<string, string> } };
    expect(line.req.headers).toEqual({
      authorization: REDACTED,
      'sec-websocket-protocol': REDACTED,
      'proxy-authorization': REDACTED,
      cookie: REDACTED,
      host: 'h',
    });
  });
});
