import { Injectable } from '@nestjs/common';

/** Instance-wide lifecycle flags read on the upgrade path. */
@Injectable()
export class LifecycleState {
  /** Set at shutdown: new upgrades get 503 DRAINING and open connections are being closed with 1012. */
  draining = false;
}
