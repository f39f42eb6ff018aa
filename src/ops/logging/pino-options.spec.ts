import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveOpsOptions, type ResolvedOpsLoggingOptions } from '../ops.options.js';
import { createHttpLogger, pinoHttpOptions, pinoOptions, requestId } from './pino-options.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

function capture(): { lines: () => Record<string, any>[]; write: (s: string) => void } {
  const chunks: string[] = [];
  return {
    write: (s: string) => void chunks.push(s),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, any>),
  };
}

describe('pinoOptions', () => {
  it('redacts token-like fields at any of the first three levels, and credential headers', () => {
    const out = capture();
    const log = pino(pinoOptions('info'), out);
    log.info({ token: JWT, a: { reconnectToken: 'r', b: { token: 't' } }, req: { headers: { authorization: `Bearer ${JWT}`, host: 'h' } } }, 'hello');
    const [line] = out.lines();
    expect(line).toMatchObject({
      level: 'info',
      msg: 'hello',
      token: '[REDACTED]',
      a: { reconnectToken: '[REDACTED]', b: { token: '[REDACTED]' } },
      req: { headers: { authorization: '[REDACTED]', host: 'h' } },
    });
    expect(typeof line!.time).toBe('string');
  });

  it('scrubs messages and errors', () => {
    const out = capture();
    const log = pino(pinoOptions('info'), out);
    log.info(`connect to /ws?token=${JWT}`);
    log.error({ err: new Error(`bad token ${JWT}`) }, 'failed');
    const joined = JSON.stringify(out.lines());
    expect(joined).not.toContain(JWT);
    expect(out.lines()[0]!.msg).toBe('connect to /ws?token=[REDACTED]');
    expect(out.lines()[1]!.err.message).toBe('bad token [REDACTED]');
  });

  it('honours the level', () => {
    const out = capture();
    const log = pino(pinoOptions('warn'), out);
    log.info('quiet');
    log.warn('loud');
    expect(out.lines().map((l) => l.msg)).toEqual(['loud']);
  });
});

describe('createHttpLogger', () => {
  it('writes to the destination at the level given, and is silent with no request lines when logging is off', () => {
    const out = capture();
    const logging = resolveOpsOptions({ logging: { destination: { write: out.write }, level: 'debug' } }).logging as ResolvedOpsLoggingOptions;
    const http = createHttpLogger(logging);
    http.logger.debug({ token: JWT }, 'to the destination');
    expect(out.lines()).toMatchObject([{ level: 'debug', msg: 'to the destination', token: '[REDACTED]' }]);
    expect(createHttpLogger(false).logger.level).toBe('silent');
    expect(pinoHttpOptions(false).autoLogging).toBe(false);
  });
});

describe('requestId', () => {
  function call(header: string | undefined): { id: string; echoed: unknown } {
    let echoed: unknown;
    const req = { headers: header === undefined ? {} : { 'x-request-id': header } } as IncomingMessage;
    const res = { headersSent: false, setHeader: (_n: string, v: unknown) => (echoed = v) } as unknown as ServerResponse;
    return { id: requestId(req, res), echoed };
  }

  it('keeps a plain incoming id and echoes it', () => {
    expect(call('abc-123')).toEqual({ id: 'abc-123', echoed: 'abc-123' });
  });

  it('replaces a missing or suspicious id with a UUID', () => {
    expect(call(undefined).id).toMatch(/^[0-9a-f-]{36}$/);
    const injected = call('x"\n{"level":"fatal"}');
    expect(injected.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(injected.echoed).toBe(injected.id);
  });
});
