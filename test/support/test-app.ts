import 'reflect-metadata';
import { Module, type INestApplication, type Type } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import type { AddressInfo } from 'node:net';
import { ConnectionManagerModule } from '../../src/connection-manager/connection-manager.module.js';
import type { ConnectionManagerOptions } from '../../src/kernel/connection-manager.options.js';
import type { CanvasAccessPolicy } from '../../src/domain/ports/canvas-access-policy.port.js';
import type { TenantQuotaPolicy } from '../../src/domain/ports/tenant-quota-policy.port.js';
import { CanvasPresenceModule } from '../../src/presence/canvas-presence.module.js';
import { CanvasMessageRouterModule } from '../../src/message-router/canvas-message-router.module.js';
import { ConnectionManagerWsAdapter } from '../../src/ws/connection-manager.adapter.js';
import { TestClient, type Refusal } from './test-client.js';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256';

type ModuleOptions = Omit<ConnectionManagerOptions, 'jwt'> & { jwt?: ConnectionManagerOptions['jwt'] };

export interface TestAppOptions {
  /** Module options; `jwt` defaults to HS256 with TEST_SECRET. */
  options?: ModuleOptions;
  /** Import the reference Presence and Router modules (default true). */
  withReferenceModules?: boolean;
  canvasAccessPolicy?: Type<CanvasAccessPolicy>;
  /** Modules the access policy's dependencies come from (passed as `canvasAccessPolicyImports`). */
  canvasAccessPolicyImports?: any[];
  /** Per-tenant limits (passed as `tenantQuotaPolicy`), with `tenantQuotaPolicyImports`. */
  tenantQuotaPolicy?: Type<TenantQuotaPolicy>;
  tenantQuotaPolicyImports?: any[];
  /** Extra modules/providers for a scenario (e.g. a throwing listener). */
  imports?: any[];
  providers?: any[];
}

export interface RecordedEvent {
  name: string;
  payload: any;
}

export interface TokenClaims {
  sub?: unknown;
  tenantId?: unknown;
  name?: unknown;
  canvases?: unknown;
  [claim: string]: unknown;
}

/**
 * The one way e2e tests build an app: the real module, the real adapter, listening on an
 * ephemeral 127.0.0.1 port, with every domain event recorded. Close it after each test.
 */
export class TestApp {
  readonly events: RecordedEvent[] = [];
  private readonly clients = new Set<TestClient>();

  private constructor(
    readonly app: INestApplication,
    readonly port: number,
    readonly path: string,
  ) {
    app.get(EventEmitter2).onAny((name: string | string[], payload: unknown) => {
      this.events.push({ name: String(name), payload });
    });
  }

  static async create(opts: TestAppOptions = {}): Promise<TestApp> {
    const options = { ...opts.options, jwt: opts.options?.jwt ?? { secret: TEST_SECRET } };
    const withRef = opts.withReferenceModules ?? true;
    @Module({
      imports: [
        EventEmitterModule.forRoot(),
        ConnectionManagerModule.forRoot({
          ...options,
          canvasAccessPolicy: opts.canvasAccessPolicy,
          canvasAccessPolicyImports: opts.canvasAccessPolicyImports,
          tenantQuotaPolicy: opts.tenantQuotaPolicy,
          tenantQuotaPolicyImports: opts.tenantQuotaPolicyImports,
        }),
        ...(withRef ? [CanvasPresenceModule, CanvasMessageRouterModule] : []),
        ...(opts.imports ?? []),
      ],
      providers: opts.providers ?? [],
    })
    class ScenarioModule {}
    const moduleRef = await Test.createTestingModule({ imports: [ScenarioModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: ['error'] });
    app.useWebSocketAdapter(new ConnectionManagerWsAdapter(app));
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    return new TestApp(app, port, options.path ?? '/ws');
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}${this.path}`;
  }

  get<T>(token: Type<T> | symbol | string): T {
    return this.app.get(token as any, { strict: false });
  }

  /** Signs an HS256 token with the test secret; defaults: sub u1, tenantId t1, exp in 1 h. */
  token(claims: TokenClaims = {}, options: jwt.SignOptions = {}, secret: jwt.Secret = TEST_SECRET): string {
    const payload: Record<string, unknown> = { sub: 'u1', tenantId: 't1', ...claims };
    for (const key of Object.keys(payload)) if (payload[key] === undefined) delete payload[key];
    const signOptions: jwt.SignOptions = { algorithm: 'HS256', ...options };
    if (payload.exp === undefined && signOptions.expiresIn === undefined && !signOptions.noTimestamp) signOptions.expiresIn = 3600;
    return jwt.sign(payload, secret, signOptions);
  }

  /**
   * Opens a client with `?token=` (none when `claims` is null), waits for connection_ack and
   * returns it with the ack. `extra.query` is appended (e.g. `&reconnectToken=…`);
   * `extra.protocols` are offered in `Sec-WebSocket-Protocol`.
   */
  async connect(
    claims: TokenClaims | string | null = {},
    extra: { headers?: Record<string, string>; query?: string; protocols?: string[] } = {},
  ): Promise<TestClient & { ack: any }> {
    const token = claims === null ? undefined : typeof claims === 'string' ? claims : this.token(claims);
    const params = [token === undefined ? '' : `token=${encodeURIComponent(token)}`, (extra.query ?? '').replace(/^[&?]/, '')].filter((p) => p.length > 0);
    const ws = new WebSocket(`${this.url}${params.length > 0 ? `?${params.join('&')}` : ''}`, extra.protocols ?? [], { headers: extra.headers });
    const client = new TestClient(ws) as TestClient & { ack: any };
    this.clients.add(client);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    client.ack = await client.next('connection_ack');
    return client;
  }

  /** Resumes a session with its reconnect token (and, optionally, a JWT given as claims or string). */
  resume(reconnectToken: string, claims: TokenClaims | string | null = null): Promise<TestClient & { ack: any }> {
    return this.connect(claims, { query: `reconnectToken=${encodeURIComponent(reconnectToken)}` });
  }

  /** Opens a raw client (no waiting), for tests that control the handshake themselves. */
  rawClient(url: string, options: WebSocket.ClientOptions = {}): TestClient {
    const client = new TestClient(new WebSocket(url, options));
    this.clients.add(client);
    return client;
  }

  /**
   * Attempts an upgrade that must be refused: resolves with the HTTP status, headers and
   * JSON body; fails if a WebSocket opens instead.
   */
  refusal(query = '', headers: Record<string, string> = {}, path = this.path): Promise<Refusal> {
    return attemptRefusal(`ws://127.0.0.1:${this.port}${path}${query}`, headers);
  }

  /** Events of one name recorded so far. */
  eventsNamed(name: string): any[] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload);
  }

  /** Waits until `predicate` holds (polling), or fails after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.ws.terminate();
    await this.app.close();
  }
}

export function attemptRefusal(url: string, headers: Record<string, string> = {}): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted: a WebSocket opened'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let raw = '';
      res.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      res.on('end', () => {
        let body: any = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          // keep the raw text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    ws.once('error', (err) => reject(err));
  });
}
