import { Global, Inject, Injectable, Module } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import type { Identity } from '../src/domain/connections/identity.js';
import type { CanvasAccessPolicy } from '../src/domain/ports/canvas-access-policy.port.js';
import { TestApp, type TestAppOptions } from './support/test-app.js';
import type { TestClient } from './support/test-client.js';

type Client = TestClient & { ack: any };

const joined = (canvasId: string, id: string | number) => ({ type: 'room_joined', id, roomId: `canvas:${canvasId}`, canvasId, pos: expect.any(String) });
const forbidden = (id: string | number) => ({ type: 'error', code: 'FORBIDDEN', message: expect.any(String), id });

/** Sends a join and returns the direct reply (room_joined or error). */
function join(client: Client, canvasId: string, id: string | number) {
  return client.request({ type: 'join', canvasId, id }, 5000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Async, like a policy that looks the canvas up in a database; denies `secret`. */
@Injectable()
class AsyncPolicy implements CanvasAccessPolicy {
  static calls: Array<{ identity: Identity; canvasId: string }> = [];
  async canJoin(identity: Identity, canvasId: string): Promise<boolean> {
    AsyncPolicy.calls.push({ identity, canvasId });
    await sleep(30);
    return canvasId !== 'secret';
  }
}

/** Throws synchronously for `boom`, rejects for `reject`, allows everything else. */
@Injectable()
class FaultyPolicy implements CanvasAccessPolicy {
  canJoin(_identity: Identity, canvasId: string): boolean | Promise<boolean> {
    if (canvasId === 'boom') throw new Error('policy exploded');
    if (canvasId === 'reject') return sleep(10).then(() => Promise.reject(new Error('database down')));
    return true;
  }
}

/** A dependency of the host, as a policy's repository would be. */
@Injectable()
class CanvasDirectory {
  readonly open = new Set(['c1', 'c2']);
}

@Injectable()
class DirectoryPolicy implements CanvasAccessPolicy {
  constructor(@Inject(CanvasDirectory) private readonly directory: CanvasDirectory) {}
  async canJoin(_identity: Identity, canvasId: string): Promise<boolean> {
    return this.directory.open.has(canvasId);
  }
}

@Global()
@Module({ providers: [CanvasDirectory], exports: [CanvasDirectory] })
class GlobalDirectoryModule {}

/** A plain (not global) host module, handed to the policy with `canvasAccessPolicyImports`. */
@Module({ providers: [CanvasDirectory], exports: [CanvasDirectory] })
class DirectoryModule {}

describe('canvas access policy', () => {
  let t: TestApp | undefined;
  const start = async (opts: TestAppOptions = {}) => (t = await TestApp.create(opts));
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('default policy: a `canvases` claim allows only those canvases, others are FORBIDDEN (echoing the id)', async () => {
    const app = await start();
    const a = await app.connect({ sub: 'u1', canvases: ['c1', 'c2'] });
    expect(await join(a, 'c1', 'ok1')).toEqual(joined('c1', 'ok1'));
    expect(await join(a, 'c2', 'ok2')).toEqual(joined('c2', 'ok2'));
    expect(await join(a, 'c3', 'no')).toEqual(forbidden('no'));
    expect(await join(a, 'C1', 9)).toEqual(forbidden(9));

    // not in the forbidden room: a member's message does not reach it, its own is refused
    const b = await app.connect({ sub: 'u2' });
    expect(await join(b, 'c3', 'b')).toEqual(joined('c3', 'b'));
    expect(await a.request({ type: 'message', canvasId: 'c3', data: 'x', id: 'm' })).toEqual({
      type: 'error',
      code: 'NOT_IN_ROOM',
      message: expect.any(String),
      id: 'm',
    });
    b.send({ type: 'message', canvasId: 'c3', data: 'members only' });
    await app.until(() => app.eventsNamed('connection.message').length === 1, 5000, 'the message');
    expect(await a.request({ type: 'ping', id: 'p' })).toEqual({ type: 'pong', id: 'p' });
    expect(a.frames.filter((f) => f.type === 'message' || f.canvasId === 'c3')).toEqual([]);
    expect(
      app
        .eventsNamed('room.joined')
        .filter((e) => e.connectionId === a.ack.connectionId)
        .map((e) => e.canvasId),
    ).toEqual(['c1', 'c2']);
  });

  it('default policy: an empty `canvases` claim allows no canvas', async () => {
    const app = await start();
    const a = await app.connect({ canvases: [] });
    expect(await join(a, 'c1', 'x')).toEqual(forbidden('x'));
  });

  it('default policy: without a `canvases` claim any canvas of the tenant is allowed', async () => {
    const app = await start();
    const a = await app.connect({ sub: 'u1' });
    for (const [i, canvasId] of ['c1', 'anything', 'A.b_c-d:e', 'x'.repeat(128)].entries()) {
      expect(await join(a, canvasId, i)).toEqual(joined(canvasId, i));
    }
  });

  it('a custom async policy replaces the default: it denies one canvas with FORBIDDEN and allows the others', async () => {
    AsyncPolicy.calls = [];
    const app = await start({ canvasAccessPolicy: AsyncPolicy });
    // the claim would forbid c9 under the default policy; the custom one decides alone
    const a = await app.connect({ sub: 'u1', tenantId: 't9', name: 'Ann', canvases: ['c1'] });
    expect(await join(a, 'secret', 's')).toEqual(forbidden('s'));
    expect(await join(a, 'c1', 'a')).toEqual(joined('c1', 'a'));
    expect(await join(a, 'c9', 'b')).toEqual(joined('c9', 'b'));
    expect(AsyncPolicy.calls.map((c) => c.canvasId)).toEqual(['secret', 'c1', 'c9']);
    expect(AsyncPolicy.calls[0].identity).toMatchObject({ userId: 'u1', tenantId: 't9', name: 'Ann' });
  });

  it('a policy that throws or rejects means FORBIDDEN, and the connection stays usable', async () => {
    const app = await start({ canvasAccessPolicy: FaultyPolicy });
    const a = await app.connect();
    expect(await join(a, 'boom', 'b1')).toEqual(forbidden('b1'));
    a.send({ type: 'ping', id: 'p1' });
    expect(await a.next()).toEqual({ type: 'pong', id: 'p1' });
    expect(await join(a, 'reject', 'r1')).toEqual(forbidden('r1'));
    a.send({ type: 'ping', id: 'p2' });
    expect(await a.next()).toEqual({ type: 'pong', id: 'p2' });
    expect(await join(a, 'c1', 'ok')).toEqual(joined('c1', 'ok'));
    expect(a.ws.readyState).toBe(a.ws.OPEN);
  });

  it('a policy with a dependency from a host module given as canvasAccessPolicyImports can be used', async () => {
    // The policy class is resolved inside ConnectionManagerModule; the host module must reach it.
    const app = await start({ canvasAccessPolicy: DirectoryPolicy, canvasAccessPolicyImports: [DirectoryModule] });
    const a = await app.connect();
    expect(await join(a, 'c1', 'ok')).toEqual(joined('c1', 'ok'));
    expect(await join(a, 'c3', 'no')).toEqual(forbidden('no'));
  });

  it('a policy with a dependency from a global host module can be used', async () => {
    const app = await start({ canvasAccessPolicy: DirectoryPolicy, imports: [GlobalDirectoryModule] });
    const a = await app.connect();
    expect(await join(a, 'c2', 'ok')).toEqual(joined('c2', 'ok'));
    expect(await join(a, 'c3', 'no')).toEqual(forbidden('no'));
    // the policy sees the host's live instance
    app.get(CanvasDirectory).open.add('c3');
    expect(await join(a, 'c3', 'now')).toEqual(joined('c3', 'now'));
  });
});
