import { Controller, Get, Logger, Module } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { OpsLogger } from '../src/ops/logging/ops-logger.service.js';
import { requestLogContext } from '../src/ops/logging/request-log-context.js';
import { OpsModule } from '../src/ops/ops.module.js';
import { httpGet } from './support/ops.js';
import { TestApp } from './support/test-app.js';

/** A host route that logs after an async hop, as handlers do (a query, a fetch). */
@Controller('host')
class HostController {
  private readonly logger = new Logger('HostController');

  @Get('work')
  async work(): Promise<{ ok: true }> {
    await new Promise((r) => setTimeout(r, 5));
    this.logger.log({ msg: 'working', step: 1 });
    return { ok: true };
  }
}

@Module({ controllers: [HostController] })
class HostModule {}

/**
 * Request ids: the request line always carries one; with `logging.requestContext` so does every
 * line written while the request is handled: OpsLogger finds the request's pino child through
 * AsyncLocalStorage (set by the request-logging middleware), so a
 * host's own Nest Logger line carries `reqId` even after an `await`; a line written outside any
 * request (the connection lines) carries none.
 */
describe('request ids on the lines of a request', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('by default only the request line carries the id: no AsyncLocalStorage is entered, so no promise hook is turned on for the WebSocket paths', async () => {
    const chunks: string[] = [];
    const destination = { write: (s: string) => void chunks.push(s) };
    t = await TestApp.create({ imports: [HostModule, OpsModule.forRoot({ logging: { level: 'info', destination }, metrics: { enabled: false } })] });
    t.app.useLogger(t.app.get(OpsLogger));

    const res = await httpGet(t, '/host/work', { 'X-Request-Id': 'req-9' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-9');
    await t.until(() => chunks.join('').includes('"request completed"'), 3000, 'request line');
    const lines = chunks
      .join('')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines.find((l) => l.msg === 'working')).toMatchObject({ context: 'HostController', step: 1 });
    expect(lines.find((l) => l.msg === 'working')).not.toHaveProperty('reqId');
    expect(lines.find((l) => l.req?.url === '/host/work')).toMatchObject({ reqId: 'req-9', res: { statusCode: 200 } });
    // Node 20's AsyncLocalStorage turns itself (and its promise hooks) on at the first run(); Node 24's has no such flag.
    expect((requestLogContext as unknown as { enabled?: boolean }).enabled ?? false).toBe(false);
  });

  it("with logging.requestContext, a host handler's line carries the request's id across an await, and lines outside requests carry none", async () => {
    const chunks: string[] = [];
    const destination = { write: (s: string) => void chunks.push(s) };
    t = await TestApp.create({
      imports: [HostModule, OpsModule.forRoot({ logging: { level: 'info', destination, requestContext: true }, metrics: { enabled: false } })],
    });
    t.app.useLogger(t.app.get(OpsLogger));

    const first = await httpGet(t, '/host/work', { 'X-Request-Id': 'req-7' });
    expect(first.status).toBe(200);
    const second = await httpGet(t, '/host/work');
    expect(second.status).toBe(200);
    const generated = second.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const client = await t.connect({ sub: 'alice' });
    await t.until(() => chunks.join('').includes('"connection established"'), 3000, 'connection line');
    await client.close();

    const lines = chunks
      .join('')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, any>);
    const working = lines.filter((l) => l.msg === 'working');
    expect(working).toMatchObject([
      { context: 'HostController', step: 1, reqId: 'req-7' },
      { context: 'HostController', step: 1, reqId: generated },
    ]);
    expect(lines.find((l) => l.req?.url === '/host/work' && l.req.id === 'req-7')).toMatchObject({ level: 'info', reqId: 'req-7', res: { statusCode: 200 } });
    expect(lines.find((l) => l.msg === 'connection established')).not.toHaveProperty('reqId');
  });
});
