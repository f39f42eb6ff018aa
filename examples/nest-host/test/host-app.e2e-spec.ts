import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import WebSocket, { type RawData } from 'ws';
import type { ConnectionAckFrame, PresenceMember, ServerFrame } from 'canvas-connection-manager/client';

/**
 * The host app as its users run it (issue 14): `node dist/src/main.js`, built from this
 * example's sources (= the README's "Use it in your Nest app"), with canvas-connection-manager
 * installed from the packed tarball. Started as a child of whichever Node runs this file
 * (process.execPath), so CI runs it on each Node line. `HOST_APP_MAIN` points it at another
 * build of the same sources (CI: the CommonJS one). Every step waits on the frame, HTTP answer
 * or exit that proves it, never on a fixed sleep.
 */

const MAIN = process.env.HOST_APP_MAIN ?? fileURLToPath(new URL('../src/main.js', import.meta.url));
const SECRET = randomBytes(32).toString('hex');
const TENANT = 'acme';
const FRAME_TIMEOUT_MS = 10_000;
/** Per step: a hung step (a drain that never ends) fails instead of hanging CI. The drain itself is bounded by drainTimeoutMs (10 s). */
const STEP = { timeout: 30_000 };

/** An HS256 JWT, as the host's identity provider would issue it; `exp` one hour ahead. */
function token(claims: { sub: string; name?: string }, secret = SECRET): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ tenantId: TENANT, exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

interface HostProcess {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the built host app on an ephemeral 127.0.0.1 port; resolves once it logs where it listens. */
async function startHost(): Promise<HostProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', JWT_SECRET: SECRET, REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the host app did not log "listening on" within 30 s:\n${out}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the host app exited before listening (code ${code}, signal ${signal}):\n${out}`));
    });
  });
  return { child, baseUrl, output: () => out, exited };
}

/** A raw `ws` client that queues every server frame, so a test can wait for the next one of a type. */
class Client {
  private readonly frames: ServerFrame[] = [];
  private readonly waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData) => {
      this.frames.push(JSON.parse(data.toString()) as ServerFrame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** The first queued frame of this type (removed from the queue), waiting for it if needed. */
  async next<T extends ServerFrame['type']>(type: T): Promise<Extract<ServerFrame, { type: T }>> {
    const deadline = Date.now() + FRAME_TIMEOUT_MS;
    for (;;) {
      const index = this.frames.findIndex((f) => f.type === type);
      if (index >= 0) return this.frames.splice(index, 1)[0] as Extract<ServerFrame, { type: T }>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${FRAME_TIMEOUT_MS} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }
}

function wsUrl(baseUrl: string, jwt: string): string {
  return `${baseUrl.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(jwt)}`;
}

async function connect(baseUrl: string, jwt: string): Promise<{ client: Client; ack: ConnectionAckFrame }> {
  const client = new Client(new WebSocket(wsUrl(baseUrl, jwt)));
  return { client, ack: await client.next('connection_ack') };
}

/** What the upgrade got instead of a socket: status, headers and body of the HTTP response. */
function refusal(baseUrl: string, jwt: string): Promise<{ status: number; wwwAuthenticate: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(baseUrl, jwt));
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', () => undefined); // ws reports the refusal as an error too, after unexpected-response
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, wwwAuthenticate: res.headers['www-authenticate'], body }));
    });
  });
}

function sample(metrics: string, line: RegExp): number | undefined {
  const match = line.exec(metrics);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

describe(`the README host app, built from the packed tarball, in a child process (${MAIN})`, () => {
  let host: HostProcess;
  let alice: Client | undefined;
  let bob: Client | undefined;
  /** A client connected by an earlier step (steps run in order and share the process). */
  const connected = (client: Client | undefined): Client => {
    assert.ok(client, 'connected by the earlier step');
    return client;
  };

  before(async () => {
    host = await startHost();
  }, STEP);

  after(async () => {
    for (const c of [alice, bob]) c?.ws.terminate();
    if (host.child.exitCode === null && host.child.signalCode === null) {
      host.child.kill('SIGKILL');
      await host.exited;
    }
  }, STEP);

  it('answers /health/ready and /metrics (OpsModule)', STEP, async () => {
    const ready = await fetch(`${host.baseUrl}/health/ready`);
    assert.equal(ready.status, 200, await ready.text());
    const metrics = await fetch(`${host.baseUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(sample(await metrics.text(), /^cm_connections (\d+)$/m), 0);
  });

  it('refuses a badly signed token on the upgrade with 401 UNAUTHORIZED', STEP, async () => {
    const refused = await refusal(host.baseUrl, token({ sub: 'mallory' }, randomBytes(32).toString('hex')));
    assert.equal(refused.status, 401);
    assert.match(refused.wwwAuthenticate ?? '', /^Bearer/);
    assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  });

  it('connects two users: connection_ack, join, presence, a message from one to the other', STEP, async () => {
    let ack: ConnectionAckFrame;
    ({ client: alice, ack } = await connect(host.baseUrl, token({ sub: 'alice', name: 'Alice' })));
    assert.deepEqual([ack.userId, ack.tenantId, ack.resumed], ['alice', TENANT, false]);
    ({ client: bob, ack } = await connect(host.baseUrl, token({ sub: 'bob', name: 'Bob' })));
    assert.equal(ack.userId, 'bob');

    alice.send({ type: 'join', canvasId: 'board-1', id: 'a1' });
    const { pos, ...joined } = await alice.next('room_joined');
    assert.deepEqual(joined, { type: 'room_joined', id: 'a1', roomId: 'canvas:board-1', canvasId: 'board-1' });
    assert.match(pos, /^[a-z0-9]{1,16}\.\d+$/);
    assert.deepEqual((await alice.next('presence_state')).members, [{ userId: 'alice', name: 'Alice', connections: 1 }]);

    bob.send({ type: 'join', canvasId: 'board-1', id: 'b1' });
    assert.equal((await bob.next('room_joined')).id, 'b1');
    const members = (await bob.next('presence_state')).members.map((m: PresenceMember) => m.userId).sort();
    assert.deepEqual(members, ['alice', 'bob']);
    assert.deepEqual((await alice.next('presence_join')).member, { userId: 'bob', name: 'Bob', connections: 1 });

    // Acknowledged publish through the host's router module: the ack comes once the room has it.
    bob.send({ type: 'message', canvasId: 'board-1', data: { stroke: [1, 2, 3] }, seq: 1 });
    assert.deepEqual(await bob.next('ack'), { type: 'ack', seq: 1 });
    const message = await alice.next('message');
    assert.equal(message.from.userId, 'bob');
    assert.deepEqual(message.data, { stroke: [1, 2, 3] });
    assert.match(message.pos ?? '', /^[a-z0-9]{1,16}\.1$/);
  });

  it("applies the host's access policy, whose dependency comes from canvasAccessPolicyImports", STEP, async () => {
    const client = connected(alice);
    client.send({ type: 'join', canvasId: 'old-board', id: 'a2' });
    const refused = await client.next('error');
    assert.deepEqual([refused.code, refused.id], ['FORBIDDEN', 'a2']);
  });

  it("serves the host's controller, which returns what its @OnEvent listener recorded", STEP, async () => {
    // room.joined listeners run synchronously inside the join that sends presence_state: both were received above.
    const res = await fetch(`${host.baseUrl}/tenants/${TENANT}/canvases/board-1/activity`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { recentJoins: Array<{ userId: string }>; members: PresenceMember[] };
    assert.deepEqual(
      body.recentJoins.map((j) => j.userId),
      ['alice', 'bob'],
    );
    assert.deepEqual(body.members.map((m) => m.userId).sort(), ['alice', 'bob']);
    const other = (await (await fetch(`${host.baseUrl}/tenants/other/canvases/board-1/activity`)).json()) as { recentJoins: unknown[] };
    assert.deepEqual(other.recentJoins, [], 'rooms are tenant-scoped');
  });

  it('counts the connections and the refused upgrade in /metrics', STEP, async () => {
    const metrics = await (await fetch(`${host.baseUrl}/metrics`)).text();
    assert.equal(sample(metrics, /^cm_connections (\d+)$/m), 2);
    assert.equal(sample(metrics, /^cm_upgrades_total\{outcome="refused",status="401",code="UNAUTHORIZED"\} (\d+)$/m), 1);
  });

  it('drains on SIGTERM: every client sees 1012 "service restart", then the process exits 0', STEP, async () => {
    host.child.kill('SIGTERM');
    assert.deepEqual(await connected(alice).closed, { code: 1012, reason: 'service restart' });
    assert.deepEqual(await connected(bob).closed, { code: 1012, reason: 'service restart' });
    assert.deepEqual(await host.exited, { code: 0, signal: null }, host.output());
  });
});
