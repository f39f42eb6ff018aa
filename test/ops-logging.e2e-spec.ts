import { Logger as NestLogger } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { OpsLogger } from '../src/ops/logging/ops-logger.service.js';
import { OpsModule } from '../src/ops/ops.module.js';
import { httpGet } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/**
 * Structured JSON logs through pino, captured from a destination stream: one JSON object per
 * line, request ids on HTTP lines, connection ids on connection lines, the Connection
 * Manager's own Nest Logger calls in the same stream, and no credential anywhere: not the
 * `token` / `reconnectToken` query parameters, not `Authorization`, not a `token` field.
 */
describe('structured logs', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('writes JSON lines with request and connection ids and never a token', async () => {
    const chunks: string[] = [];
    const destination = { write: (s: string) => void chunks.push(s) };
    t = await TestApp.create({ imports: [OpsModule.forRoot({ logging: { level: 'debug', destination }, metrics: { defaultMetrics: false } })] });
    t.app.useLogger(t.app.get(OpsLogger));

    const jwt = t.token({ sub: 'alice', name: 'Alice' });
    const client = await t.connect(jwt);
    const reconnectToken: string = client.ack.reconnectToken;
    await client.join('c1');
    expect(await client.request({ type: 'reauth', token: jwt })).toMatchObject({ type: 'reauth_ok' });

    // An HTTP request carrying every kind of credential.
    const res = await httpGet(t, `/no-such-route?token=${jwt}&reconnectToken=${reconnectToken}&page=2`, {
      Authorization: `Bearer ${jwt}`,
      'X-Request-Id': 'req-42',
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('req-42');
    // A refused upgrade with a token in its query string.
    const badJwt = t.token({ sub: 'mallory' }, {}, 'a-wrong-secret-that-is-long-enough!!');
    expect((await t.refusal(`?token=${badJwt}`)).status).toBe(401);
    // Host code that carelessly logs a token field, or a URL or header in a message.
    new NestLogger('HostCode').log({ msg: `retrying wss://x.example/ws?token=${jwt} with Bearer ${jwt}`, token: jwt, frame: { token: reconnectToken } });
    new NestLogger('HostCode').warn(`raw jwt ${jwt}`);

    // Closing with the client still connected makes the Connection Manager's DrainService log.
    await t.close();
    t = undefined;

    const output = chunks.join('');
    for (const secret of [jwt, badJwt, reconnectToken]) expect(output).not.toContain(secret);
    const lines = output
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String) });

    const request = lines.find((l) => l.req?.url?.startsWith('/no-such-route'));
    expect(request).toMatchObject({
      level: 'warn',
      req: { id: 'req-42', method: 'GET', url: '/no-such-route?token=[REDACTED]&reconnectToken=[REDACTED]&page=2' },
      res: { statusCode: 404 },
    });
    expect(request!.req.headers).toBeUndefined();

    expect(lines.find((l) => l.msg === 'connection established')).toMatchObject({
      level: 'info',
      context: 'ConnectionManager',
      event: 'connection.established',
      connectionId: client.ack.connectionId,
      sessionId: client.ack.sessionId,
      userId: 'alice',
      tenantId: 't1',
    });
    expect(lines.find((l) => l.msg === 'upgrade refused')).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(lines.find((l) => l.msg === 'connection closed')).toMatchObject({ connectionId: client.ack.connectionId, cause: 'server_shutdown' });
    // The Connection Manager's own Nest Logger call, in the same JSON stream.
    expect(lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'))).toMatchObject({ level: 'info', context: 'ConnectionManager' });

    const host = lines.find((l) => l.context === 'HostCode' && l.level === 'info');
    expect(host).toMatchObject({ token: '[REDACTED]', frame: { token: '[REDACTED]' } });
    expect(host!.msg).toBe('retrying wss://x.example/ws?token=[REDACTED] with Bearer [REDACTED]');
    expect(lines.find((l) => l.context === 'HostCode' && l.level === 'warn')!.msg).toBe('raw jwt [REDACTED]');
  });
});
