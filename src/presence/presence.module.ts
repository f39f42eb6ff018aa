import { Module } from '@nestjs/common';
import { PresenceService } from './presence.service.js';

/** Presence frames from room events. Needs ConnectionManagerModule (global) in the app. */
@Module({ providers: [PresenceService], exports: [PresenceService] })
export class PresenceModule {}
