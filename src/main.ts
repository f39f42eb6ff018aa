import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Demo server: `PORT` (3000) and `HOST` (0.0.0.0), WebSocket at `WS_PATH` (/ws).
 * A configuration error prints one line naming the variable and exits with status 1.
 */
async function bootstrap(): Promise<void> {
  // Imported here so that ConfigModule's validation error (thrown while the module loads)
  // is caught below and printed as one line instead of a stack trace.
  const { AppModule } = await import('./demo/app.module.js');
  const { ConnectionManagerWsAdapter } = await import('./ws/connection-manager.adapter.js');
  const level = (process.env.LOG_LEVEL ?? 'log') as LogLevel;
  const app = await NestFactory.create(AppModule, { logger: LEVELS.slice(0, Math.max(2, LEVELS.indexOf(level) + 1)) });
  app.useWebSocketAdapter(new ConnectionManagerWsAdapter(app));
  // Our own signal handling instead of enableShutdownHooks(): Nest re-raises the signal after
  // closing, which ends the process with 143; a drained shutdown should exit 0.
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      Logger.log(`${signal}: draining`, 'ConnectionManager');
      app.close().then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(`shutdown failed: ${(err as Error).message}`);
          process.exit(1);
        },
      );
    });
  }
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST || '0.0.0.0';
  await app.listen(port, host);
  const address = app.getHttpServer().address();
  const shown = typeof address === 'object' && address ? `${address.address}:${address.port}` : `${host}:${port}`;
  Logger.log(`listening on http://${shown}, WebSocket path ${process.env.WS_PATH || '/ws'}`, 'ConnectionManager');
}

bootstrap().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
