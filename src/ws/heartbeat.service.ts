import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CONNECTION_MANAGER_OPTIONS } from '../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import { ConnectionService } from '../domain/connections/connection.service.js';

/**
 * The heartbeat: one interval for the whole instance (not a timer per socket). Each tick
 * terminates every connection that has sent neither a pong nor a frame since the previous
 * tick (no close frame: a dead peer would not read it), then pings the others.
 * Cleanup of the terminated connection (rooms, presence, events) runs from its close event.
 * Default interval 30000 ms (`heartbeatIntervalMs`); a dead peer is found within two intervals.
 */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    private readonly connections: ConnectionService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.tick(), this.options.heartbeatIntervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One heartbeat round; public so tests and tools can drive it. Returns how many were terminated. */
  tick(): number {
    let terminated = 0;
    for (const connection of this.connections.all()) {
      if (!connection.alive) {
        this.connections.terminate(connection, { cause: 'heartbeat_timeout', resumable: true });
        terminated++;
        continue;
      }
      connection.alive = false;
      try {
        connection.socket.ping();
      } catch {
        // ping throws only when the socket is not open; its close event cleans up.
      }
    }
    return terminated;
  }
}
