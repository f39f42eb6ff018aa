import WebSocket from 'ws';
import { afterEach, beforeEach } from 'vitest';
import { TestApp, type TestAppOptions } from './test-app.js';
import {
  connect,
  type CanvasClient,
  type ClientErrorEvent,
  type ConnectOptions,
  type PresenceEvent,
  type RoomMessage,
  type StateEvent,
  type WebSocketConstructorLike,
  type WebSocketLike,
} from '../../client/index.js';

/**
 * Helpers for the SDK e2e tests (test/sdk-*.e2e-spec.ts): the real SDK against the real server,
 * over `ws` (Node 20 has no global WebSocket).
 */

/**
 * A `ws` WebSocket class that remembers every socket it made (to drop or pause one) and the
 * subprotocols each offered (where the SDK puts the credential by default).
 */
export function trackedWebSocket(): { WebSocket: WebSocketConstructorLike; sockets: WebSocket[]; offered: Array<string[] | undefined>; last(): WebSocket } {
  const sockets: WebSocket[] = [];
  const offered: Array<string[] | undefined> = [];
  class Tracked extends WebSocket {
    constructor(url: string, protocols?: string[]) {
      super(url, protocols);
      sockets.push(this);
      offered.push(protocols);
    }
  }
  return {
    WebSocket: Tracked,
    sockets,
    offered,
    last: () => {
      const ws = sockets.at(-1);
      if (!ws) throw new Error('no socket was opened yet');
      return ws;
    },
  };
}

/**
 * A WebSocket with only what a browser's has: no `on`, no `terminate`, so a refused upgrade is
 * just an error and a 1006 close, its status invisible (as in a browser).
 */
export class BrowserLikeWebSocket implements WebSocketLike {
  static opened = 0;
  onopen: ((event: any) => void) | null = null;
  onmessage: ((event: any) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  onerror: ((event: any) => void) | null = null;
  private readonly ws: WebSocket;

  constructor(url: string, protocols?: string[]) {
    BrowserLikeWebSocket.opened++;
    this.ws = new WebSocket(url, protocols);
    this.ws.on('open', () => this.onopen?.({ type: 'open' }));
    this.ws.on('message', (data, isBinary) => this.onmessage?.({ data: isBinary ? data : data.toString() }));
    this.ws.on('error', () => this.onerror?.({ type: 'error' }));
    this.ws.on('close', (code, reason) => this.onclose?.({ code, reason: reason.toString() }));
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: string): void {
    this.ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}

/** Everything a client emitted, in order. */
export interface Recorded<T> {
  client: CanvasClient<T>;
  states: StateEvent[];
  errors: ClientErrorEvent[];
  messages: RoomMessage<T>[];
  presence: PresenceEvent[];
  /** getToken() calls so far. */
  tokenCalls: number;
}

const openClients = new Set<CanvasClient<any>>();

/** connect() with `ws`, recording every event and counting getToken() calls. */
export function sdkClient<T = unknown>(options: Omit<ConnectOptions, 'WebSocket'> & { WebSocket?: ConnectOptions['WebSocket'] }): Recorded<T> {
  const rec = { states: [], errors: [], messages: [], presence: [], tokenCalls: 0 } as unknown as Recorded<T>;
  const client = connect<T>({
    WebSocket,
    ...options,
    getToken: () => {
      rec.tokenCalls++;
      return options.getToken();
    },
  });
  rec.client = client;
  client.on('state', (e) => rec.states.push(e));
  client.on('error', (e) => rec.errors.push(e));
  client.on('message', (m) => rec.messages.push(m));
  client.on('presence', (p) => rec.presence.push(p));
  openClients.add(client);
  return rec;
}

/** Closes every client made by {@link sdkClient} (call in afterEach). */
export function closeSdkClients(): void {
  for (const c of openClients) c.close();
  openClients.clear();
}

/** Polls until `predicate` holds, or fails with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The user ids in a presence list, sorted. */
export function userIds(members: Array<{ userId: string }>): string[] {
  return members.map((m) => m.userId).sort();
}

/**
 * One app per test for the SDK scenarios: created before each test; the SDK clients and the
 * app closed after each. Returns a getter for the current test's app.
 */
export function sdkAppPerTest(options?: TestAppOptions): () => TestApp {
  let app: TestApp | undefined;
  beforeEach(async () => {
    app = await TestApp.create(options);
  });
  afterEach(async () => {
    closeSdkClients();
    await app?.close();
    app = undefined;
  });
  return () => {
    if (!app) throw new Error('sdkAppPerTest: no app outside a test');
    return app;
  };
}
