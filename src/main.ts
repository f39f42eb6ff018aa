import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';

/**
 * Demo server: `PORT` (3000) and `HOST` (0.0.0.0), WebSocket at `WS_PATH` (/ws).
 * A configuration error prints one line naming the variable and exits with status 1.
 * Logs are JSON lines on stdout (OpsLogger, level from `LOG_LEVEL`); start-up lines are
 * buffered until that logger is in place, so they come out as JSON too.
 *
 * Everything a production host needs is in the modules and the adapter; this file only does
 * what any host's main.ts does (README "Use it in your Nest app"): the adapter, the logger,
 * shutdown hooks, listen.
 */
async function bootstrap(): Promise<void> {
  // The env is validated here first: @nestjs/config 12's forRoot is async, so its validation
  // error would surface as an unhandled rejection (a stack trace) before Nest awaits it.
  // Thrown here, it is caught below and printed as one line naming the variable.
  const { validateEnv } = await import('./demo/env.schema.js');
  const env = validateEnv(process.env);
  const { AppModule } = await import('./demo/app.module.js');
  const { ConnectionManagerWsAdapter } = await import('./ws/connection-manager.adapter.js');
  const { OpsLogger } = await import('./ops/logging/ops-logger.service.js');
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  app.useLogger(app.get(OpsLogger));
  app.useWebSocketAdapter(new ConnectionManagerWsAdapter(app));
  // SIGTERM/SIGINT run app.close(): DrainService closes every socket with 1012 and waits for
  // the close handshakes (WS_DRAIN_TIMEOUT_MS). useProcessExit: exit 0 afterwards; Nest's
  // default re-raises the signal, which ends the process with 143 (killed by SIGTERM), and a
  // drained shutdown is a clean one. A failing shutdown exits 1.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.listen(env.PORT, env.HOST);
  const address = (app.getHttpServer() as Server).address();
  const shown = typeof address === 'object' && address ? `${address.address}:${address.port}` : `${env.HOST}:${env.PORT}`;
  Logger.log(`listening on http://${shown}, WebSocket path ${env.WS_PATH}`, 'ConnectionManager');
}

bootstrap().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
