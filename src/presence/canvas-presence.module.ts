import { Module } from '@nestjs/common';
import { CanvasPresenceService } from './canvas-presence.service.js';

/** Presence frames from room events. Needs ConnectionManagerModule (global) in the app. */
@Module({ providers: [CanvasPresenceService], exports: [CanvasPresenceService] })
export class CanvasPresenceModule {}
