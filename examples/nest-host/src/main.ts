import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConnectionManagerWsAdapter, OpsLogger } from 'canvas-connection-manager';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  app.useLogger(app.get(OpsLogger)); // every log line as JSON, tokens redacted
  // Authentication runs in this adapter, on the upgrade (bad tokens get 401): set it before listen().
  app.useWebSocketAdapter(new ConnectionManagerWsAdapter(app));
  // SIGTERM/SIGINT: drain (every socket closed with 1012 "service restart", bounded by
  // drainTimeoutMs), then exit 0. Without useProcessExit Nest re-raises the signal (exit 143).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '0.0.0.0');
  Logger.log(`listening on ${await app.getUrl()}`, 'Bootstrap');
}

bootstrap().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
