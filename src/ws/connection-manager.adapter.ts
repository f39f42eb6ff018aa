import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import { ConnectionAdmissionService } from '../domain/connections/connection-admission.service.js';
import { CONNECTION_MANAGER_OPTIONS } from '../kernel/connection-manager.tokens.js';
import type { ResolvedConnectionManagerOptions } from '../kernel/connection-manager.options.js';
import { completeAdmitted } from './admitted-upgrade.js';
import { ConnectionHandler, type WsSocket } from './connection.js';
import { ManagedWebSocket, managedConnectionOf } from './managed-socket.js';
import { boundSlowUpgrades } from './slow-upgrade-bound.js';
import { refusalResponse } from './upgrade-refusal.js';
import { selectSubprotocol, upgradeAttemptOf, upgradePathOf } from './upgrade-request.js';
import { errorMessage } from '../kernel/error-message.js';

/** A WebSocket server in Nest's registry: its path (normalised by Nest) and ws's upgrade handling. */
interface PathServer {
  path: string;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: unknown) => void): void;
  emit(event: 'connection', ws: unknown, req: IncomingMessage): boolean;
}

/** Marks the gateway this adapter authenticates (other gateways pass through untouched). */
export const CONNECTION_MANAGER_GATEWAY_FLAG = 'connectionManager';

interface VerifyInfo {
  req: IncomingMessage;
}
type VerifyDone = (ok: boolean, status?: number, message?: string, headers?: Record<string, string>) => void;

/**
 * The transport seam: Nest's WsAdapter, with authentication on the upgrade itself.
 *
 * Guards never run for `handleConnection` (nestjs/nest#882), and a check there would cost a full
 * upgrade and could not answer with an HTTP status. So the checks run in ws's async
 * `verifyClient`: a refusal is written as a plain HTTP response (JSON body, `Retry-After`) and
 * no socket ever opens. Use it in `main.ts` and in every test app, before `listen()`:
 *
 *     app.useWebSocketAdapter(new ConnectionManagerWsAdapter(app));
 *
 * It also selects the `canvas.v1` subprotocol (never a credential entry offered next to it),
 * sets the path from the module options (a decorator cannot read config), bounds slow
 * upgrades on the app's HTTP server (`upgradeHeadersTimeoutMs`, see {@link boundSlowUpgrades}),
 * caps the frame size (`maxPayloadBytes`; ws's own default is 100 MiB), turns off permessage-deflate
 * (CPU and memory per connection for cursor-sized frames) and skips Nest's per-client rxjs
 * message pipeline for the gateway, which parses frames itself.
 */
export class ConnectionManagerWsAdapter extends WsAdapter {
  /** The WebSocket servers of the Connection Manager's gateway (other gateways are Nest's as usual). */
  private readonly managedServers = new WeakSet<object>();
  /** Set once {@link dispose} left the HTTP server answering upgrades with 503. */
  private refusingUpgrades = false;
  /** The `upgrade` listeners this adapter put on HTTP servers, taken off again by {@link dispose}. */
  private readonly upgradeListeners = new Map<Server, (req: IncomingMessage, socket: Duplex, head: Buffer) => void>();

  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): ReturnType<WsAdapter['create']> {
    if (!options[CONNECTION_MANAGER_GATEWAY_FLAG]) return super.create(port, options);
    const { [CONNECTION_MANAGER_GATEWAY_FLAG]: _flag, ...rest } = options;
    const moduleOptions = this.app.get<ResolvedConnectionManagerOptions>(CONNECTION_MANAGER_OPTIONS, { strict: false });
    const admission = this.app.get(ConnectionAdmissionService, { strict: false });
    // Gateways on the app's own port (port 0, the module's) share its HTTP server.
    if (port === 0) boundSlowUpgrades(this.httpServer as Server | undefined, moduleOptions.upgradeHeadersTimeoutMs);
    const verifyClient = (info: VerifyInfo, done: VerifyDone): void => {
      admission.admit(upgradeAttemptOf(info.req, moduleOptions.trustProxyHops)).then(
        (decision) => {
          if (decision.ok) {
            // Corked across the handshake: ws writes the 101 response inside done(true), and the
            // connection handler holds the socket in the write batch until the end of the turn,
            // so the 101 and the connection_ack (ready within this turn with in-memory stores)
            // leave in one write. Uncorked once here; the batch's own hold ends the turn.
            const tcp = info.req.socket;
            tcp.cork();
            try {
              completeAdmitted(info.req, decision.upgrade, () => done(true), admission);
            } finally {
              tcp.uncork();
            }
            return;
          }
          const { body, headers } = refusalResponse(decision.refusal);
          done(false, decision.refusal.status, body, headers);
        },
        () => done(false, 500, JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }), { 'Content-Type': 'application/json' }),
      );
    };
    const server = super.create(port, {
      ...rest,
      path: moduleOptions.path,
      verifyClient,
      // Selects exactly canvas.v1; ws's default would select the first name offered, which may
      // be a credential entry (canvas.auth.<jwt>) and would then be echoed in the response.
      handleProtocols: selectSubprotocol,
      maxPayload: moduleOptions.maxPayloadBytes,
      // Off by default (CPU per delivery and zlib memory per socket for small frames); when on:
      // no context takeover (no per-socket window kept between messages), 1 KiB threshold.
      perMessageDeflate: moduleOptions.perMessageDeflate ? { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 1024 } : false,
      // The connection manager tracks its connections itself (ConnectionService) and closes
      // them on shutdown (DrainService): ws's own Set of clients would be a second entry per socket.
      clientTracking: false,
      WebSocket: ManagedWebSocket,
    }) as object;
    this.managedServers.add(server);
    return server;
  }

  /**
   * Nest closes the WebSocket side before the HTTP server stops listening, and the routing
   * `upgrade` listener ({@link ensureHttpServerExists}) comes off the HTTP server with it. An
   * upgrade arriving in between would fall through to the HTTP router and get a 404, which a load balancer hands to the client instead of trying the
   * next instance (seen in the issue 16 chaos runs: 1-2 per drained instance). Until the HTTP
   * server closes, upgrades get 503 DRAINING with `Retry-After`, as during the drain itself.
   */
  override async dispose(): Promise<void> {
    for (const [server, listener] of this.upgradeListeners) server.off('upgrade', listener);
    this.upgradeListeners.clear();
    await super.dispose();
    const http = this.httpServer as Server | undefined;
    if (!http || this.refusingUpgrades) return;
    this.refusingUpgrades = true;
    const retryAfterS = this.app.get<ResolvedConnectionManagerOptions>(CONNECTION_MANAGER_OPTIONS, { strict: false }).retryAfterS;
    const { body, headers } = refusalResponse({ status: 503, code: 'DRAINING', message: 'server is restarting, reconnect to another instance', retryAfterS });
    const head = Object.entries({ ...headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    http.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      socket.on('error', () => undefined);
      socket.end(`HTTP/1.1 503 Service Unavailable\r\n${head}\r\n${body}`);
    });
  }

  /**
   * Nest's version of this hook routes each upgrade to the WebSocket server of its path with a
   * WHATWG `new URL(req.url, 'ws://' + host)` per upgrade (~2 % of the connect path's CPU). Same
   * routing here, with the URL parsed only when the path could need normalising (dots,
   * percent-escapes, backslashes, doubled slashes): the usual `/ws?…` is compared as it is.
   * A request for no known path is dropped, as Nest does; an unparsable URL gets a 400.
   */
  protected override ensureHttpServerExists(port: number, httpServer: Server = createServer()): Server | undefined {
    if (this.httpServersRegistry.has(port)) return undefined;
    this.httpServersRegistry.set(port, httpServer);
    const listener = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      try {
        const path = upgradePathOf(request);
        const wsServer = (this.wsServersRegistry.get(port) as PathServer[] | undefined)?.find((s) => s.path === path);
        if (wsServer) wsServer.handleUpgrade(request, socket, head, (ws: unknown) => wsServer.emit('connection', ws, request));
        else socket.destroy();
      } catch (err) {
        socket.end(`HTTP/1.1 400\r\n${errorMessage(err)}`);
      }
    };
    httpServer.on('upgrade', listener);
    this.upgradeListeners.set(httpServer, listener);
    return httpServer;
  }

  override bindClientConnect(server: EventEmitter, callback: (...args: unknown[]) => void): void {
    if (!this.managedServers.has(server)) return super.bindClientConnect(server, callback);
    // Straight to the connection handler, not through Nest's per-connection rxjs pipeline (a
    // Subject, its subscribers and the gateway's connection hook: ~4 % of the connect path's
    // CPU in the profile). The gateway has no connection hook to run: the handler is the hook.
    const handler = this.app.get(ConnectionHandler, { strict: false });
    server.on('connection', (socket: WsSocket, request: IncomingMessage) => handler.takeOver(socket, request));
  }

  override bindErrorHandler(server: EventEmitter): EventEmitter {
    // Nest logs every client socket error at error level; on a public socket those are
    // client-controlled (oversized frames, bad UTF-8), so the connection handler records them
    // as close causes instead of flooding the log. Server errors are still logged.
    server.on('error', (err: Error) => this.logger.error(err));
    return server;
  }

  override bindClientDisconnect(client: unknown, callback: (...args: unknown[]) => void): void {
    // Sockets the connection handler took over report their close to it directly (the gateway
    // has no handleDisconnect); Nest's per-socket close listener would only cost memory.
    if (managedConnectionOf(client)) return;
    super.bindClientDisconnect(client, callback);
  }

  override bindMessageHandlers(client: unknown, handlers: MessageMappingProperties[], transform: (data: unknown) => Observable<unknown>): void {
    // The connection manager's gateway has no @SubscribeMessage handlers: its frames are
    // parsed by the connection handler, so the per-client rxjs pipeline would be pure cost.
    if (handlers.length === 0) return;
    super.bindMessageHandlers(client, handlers, transform);
  }
}
