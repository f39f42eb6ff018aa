import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CONNECTION_MANAGER_OPTIONS } from '../../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../../kernel/connection-manager.options.js';
import { CloseCode } from '../../protocol/protocol.types.js';
import { ConnectionLifecycleService } from './connection-lifecycle.service.js';
import { ConnectionService } from './connection.service.js';
import { LifecycleState } from './lifecycle-state.js';

/**
 * Graceful drain on app shutdown (SIGTERM in the demo app). Runs in
 * beforeApplicationShutdown, before Nest's adapter terminates what is left:
 * 1. new upgrades get 503 DRAINING with Retry-After (checked before every other refusal);
 * 2. every connection gets close 1012 "service restart" (resumable: clients resume elsewhere);
 * 3. the close handshakes are awaited up to `drainTimeoutMs` (default 10000), then the rest
 *    is terminated. Frames sent before the close frame reach the client first (TCP order);
 *    messages to the rooms after it are kept in the sessions' replay buffers.
 */
@Injectable()
export class DrainService implements BeforeApplicationShutdown {
  /**
   * The drain's start line is part of the operator log contract (docs/operations.md): it keeps
   * the module's context `ConnectionManager`, like the connection lifecycle lines, so a log
   * query for the module's own lines finds it.
   */
  private readonly logger = new Logger('ConnectionManager');

  constructor(
    @Inject(CONNECTION_MANAGER_OPTIONS) private readonly options: ResolvedConnectionManagerOptions,
    private readonly connections: ConnectionService,
    private readonly lifecycleState: LifecycleState,
    private readonly lifecycle: ConnectionLifecycleService,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  /** Drains this instance; resolves when every connection is closed (or terminated at the timeout). */
  async drain(): Promise<void> {
    this.lifecycleState.draining = true;
    const open = [...this.connections.all()];
    if (open.length === 0) return;
    this.logger.log(`draining ${open.length} connections`);
    for (const connection of open) {
      this.connections.close(connection, { code: CloseCode.SERVICE_RESTART, reason: 'service restart', cause: 'server_shutdown', resumable: true });
    }
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while (this.connections.count > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const connection of [...this.connections.all()]) {
      this.connections.terminate(connection, { cause: 'server_shutdown', resumable: true });
    }
    // The count drops when a cleanup starts; its store writes (sessions kept for resume, seats
    // given back) must finish before the app closes its Redis connections.
    while (this.connections.count > 0 && Date.now() < deadline + 1000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.lifecycle.idle(Math.max(1000, deadline + 2000 - Date.now()));
  }
}
