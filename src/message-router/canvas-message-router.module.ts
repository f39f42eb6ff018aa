import { Module } from '@nestjs/common';
import { CanvasMessageRouterService } from './canvas-message-router.service.js';

/** Message routing from events. Needs ConnectionManagerModule (global) in the app. */
@Module({ providers: [CanvasMessageRouterService], exports: [CanvasMessageRouterService] })
export class CanvasMessageRouterModule {}
