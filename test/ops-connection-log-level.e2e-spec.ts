import { EventEmitter2 } from '@nestjs/event-emitter';
import { afterEach, describe, expect, it } from 'vitest';
import { OpsLogger } from '../src/ops/logging/ops-logger.service.js';
import { OpsModule } from '../src/ops/ops.module.js';
import { TestApp } from './support/test-app.js';

/**
 * The per-connection log lines cost nothing when the level drops them: at `warn` the listener
 * is not even attached (no object built, no logger call per connection: issue 5, CPU per
 * connection); at `info` both lines are written. Its own file: Nest's static logger
 * (`useLogger`) is per process, so apps in other tests of the same file would write here too.
 */
describe('connection log lines and the log level', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('at level warn the connection lines are not built at all; at info they are written', async () => {
    const lineCount = async (level: 'warn' | 'info') => {
      const chunks: string[] = [];
      const destination = { write: (s: string) => void chunks.push(s) };
      const app = await TestApp.create({ imports: [OpsModule.forRoot({ logging: { level, destination }, metrics: { enabled: false } })] });
      t = app;
      app.app.useLogger(app.app.get(OpsLogger));
      const emitter = app.get(EventEmitter2);
      // The recorder of TestApp listens with onAny; the log listener would be a named one.
      const named = emitter.listenerCount('connection.established');
      const client = await app.connect({ sub: 'alice' });
      await client.close();
      await app.until(() => app.eventsNamed('connection.closed').length === 1, 3000, 'closed');
      await app.close();
      t = undefined;
      const lines = chunks
        .join('')
        .split('\n')
        .filter((l) => l.includes('"connection established"') || l.includes('"connection closed"'));
      return { named, lines: lines.length };
    };
    const info = await lineCount('info');
    expect(info.named).toBe(1);
    expect(info.lines).toBe(2);
    const warn = await lineCount('warn');
    expect(warn.named).toBe(0);
  });
});
