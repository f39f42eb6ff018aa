import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { CanvasMessageRouterModule, CanvasPresenceModule, ConnectionManagerModule, OpsModule } from 'canvas-connection-manager';
import { CanvasActivityModule } from './canvas-activity.module.js';
import { CanvasesModule } from './canvases.module.js';
import { MyCanvasAccessPolicy } from './my-canvas-access-policy.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    EventEmitterModule.forRoot(), // the Connection Manager publishes its domain events here
    ConnectionManagerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const redisUrl = config.get<string>('REDIS_URL');
        return {
          path: '/ws',
          jwt: { secret: config.getOrThrow<string>('JWT_SECRET'), tenantClaim: 'tenantId' },
          redis: redisUrl ? { url: redisUrl } : undefined, // unset: one instance, in memory
        };
      },
      canvasAccessPolicy: MyCanvasAccessPolicy, // an @Injectable() class (default: the `canvases` claim)
      canvasAccessPolicyImports: [CanvasesModule], // where the policy's dependencies come from
    }),
    CanvasPresenceModule, // presence_state / presence_join / presence_leave
    CanvasMessageRouterModule, // routes `message` frames to the room
    OpsModule.forRoot(), // GET /health/live, /health/ready, /metrics; JSON logs (OpsLogger)
    CanvasesModule,
    CanvasActivityModule, // the host's own @OnEvent listener and controller
  ],
})
export class AppModule {}
