import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveOpsOptions, type ResolvedOpsLoggingOptions } from '../ops.options.js';
import { createLoggerParams, pinoOptions, requestId } from './logger-params.js';

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

describe('createLoggerParams', () => {
  it('passes the destination along with the options, and is silent when logging is off', () => {
    const destination = { write: () => undefined };
    const logging = resolveOpsOptions({ logging: { destination, level: 'debug' } }).logging as ResolvedOpsLoggingOptions;
    const params = createLoggerParams(logging);
    expect(Array.isArray(params.pinoHttp)).toBe(true);
    const [options, dest] = params.pinoHttp as [Record<string, unknown>, unknown];
    expect(dest).toBe(destination);
    expect(options.level).toBe('debug');
    expect((createLoggerParams(false).pinoHttp as Record<string, unknown>).level).toBe('silent');
    expect((createLoggerParams(false).pinoHttp as Record<string, unknown>).autoLogging).toBe(false);
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
