import { Module } from '@nestjs/common';
import { RouterService } from './router.service.js';

/** Message routing from events. Needs ConnectionManagerModule (global) in the app. */
@Module({ providers: [RouterService], exports: [RouterService] })
export class RouterModule {}
