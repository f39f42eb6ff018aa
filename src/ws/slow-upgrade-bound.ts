import type { Server } from 'node:http';

/**
 * Sets the HTTP server's `headersTimeout` to `timeoutMs` (0: leave it), never loosening a tighter
 * bound the host already set. `requestTimeout` (Node: 300000, 0 = off) is raised to match only
 * when it is below: Node checks it too while headers arrive, and an upgrade has no body after them.
 * Called when the WebSocket server is created, i.e. during `app.init()`, before `listen()`.
 */
export function boundSlowUpgrades(server: Server | undefined, timeoutMs: number): void {
  if (!server || timeoutMs === 0 || typeof server.headersTimeout !== 'number') return;
  if (server.headersTimeout === 0 || server.headersTimeout > timeoutMs) server.headersTimeout = timeoutMs;
  if (server.requestTimeout > 0 && server.requestTimeout < server.headersTimeout) server.requestTimeout = server.headersTimeout;
}
