import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ConnectionManagerModule } from '../connection-manager/connection-manager.module.js';
import { OpsModule } from '../ops/ops.module.js';
import { CanvasPresenceModule } from '../presence/canvas-presence.module.js';
import { CanvasMessageRouterModule } from '../message-router/canvas-message-router.module.js';
import { DemoPageController } from './demo-page.controller.js';
import { DemoTokenController } from './demo-token.controller.js';
import { ENV_KEYS, toConnectionManagerOptions, toOpsOptions, validateEnv, type AppEnv } from './env.schema.js';

/** Reads the validated env back out of ConfigService. */
function envFrom(config: ConfigService): AppEnv {
  return Object.fromEntries(ENV_KEYS.map((key) => [key, config.get(key)])) as AppEnv;
}

/**
 * The demo monolith: ConfigModule (validated env; a bad variable stops start-up) feeds
 * ConnectionManagerModule.forRootAsync; the reference Presence and Router modules react to
 * its events; OpsModule adds /health/live, /health/ready, /metrics and JSON logs (docs/operations.md).
 * `DEMO_MODE=true` adds the demo token endpoint (see DemoTokenController) and the live canvas
 * page at /demo with the client SDK (see DemoPageController).
 */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, validate: validateEnv }),
    EventEmitterModule.forRoot(),
    ConnectionManagerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => toConnectionManagerOptions(envFrom(config)),
    }),
    CanvasPresenceModule,
    CanvasMessageRouterModule,
    OpsModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => toOpsOptions(envFrom(config)),
    }),
  ],
  controllers: process.env.DEMO_MODE === 'true' ? [DemoTokenController, DemoPageController] : [],
})
export class AppModule {}
