import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import { Logger as PinoLogger } from 'nestjs-pino';
import { errorMessage } from './kernel/error-message.js';

/**
 * Demo server: `PORT` (3000) and `HOST` (0.0.0.0), WebSocket at `WS_PATH` (/ws).
 * A configuration error prints one line naming the variable and exits with status 1.
 * Logs are JSON lines on stdout (pino via OpsModule, level from `LOG_LEVEL`); start-up lines
 * are buffered until that logger is in place, so they come out as JSON too.
 */
async function bootstrap(): Promise<void> {
  // The env is validated here first: @nestjs/config 12's forRoot is async, so its validation
  // error would surface as an unhandled rejection (a stack trace) before Nest awaits it.
  // Thrown here, it is caught below and printed as one line naming the variable.
  const { validateEnv } = await import('./demo/env.schema.js');
  const env = validateEnv(process.env);
  const { AppModule } = await import('./demo/app.module.js');
  const { ConnectionManagerWsAdapter } = await import('./ws/connection-manager.adapter.js');
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  app.useLogger(app.get(PinoLogger));
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
          console.error(`shutdown failed: ${errorMessage(err)}`);
          process.exit(1);
        },
      );
    });
  }
  // Slow upgrades (slowloris): Node's defaults let a client dribble headers for 60 s.
  const server = app.getHttpServer() as Server;
  server.headersTimeout = env.HTTP_HEADERS_TIMEOUT_MS;
  server.requestTimeout = Math.max(env.HTTP_HEADERS_TIMEOUT_MS, 30_000);
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST || '0.0.0.0';
  await app.listen(port, host);
  const address = server.address();
  const shown = typeof address === 'object' && address ? `${address.address}:${address.port}` : `${host}:${port}`;
  Logger.log(`listening on http://${shown}, WebSocket path ${process.env.WS_PATH || '/ws'}`, 'ConnectionManager');
}

bootstrap().catch((err: unknown) => {
  console.error(errorMessage(err));
  process.exit(1);
});
