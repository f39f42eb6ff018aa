import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEAVE_LUA } from '../src/backends/redis/membership.lua.js';
import {
  busChannel,
  dumpLogsOnFailure,
  InstanceGroup,
  metricValue,
  takeFrames,
  uniqueTenant,
  until,
  waitFor,
  type ClusterClient,
  type Deployment,
} from './support/instance-harness.js';
import { startRedis } from './support/redis-harness.js';
import { tcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import type { ServerFrame } from './support/test-client.js';

/**
 * Finding 11 (docs/reliability.md): a presence_leave of a user's OLD connection, published by
 * the instance that held it, reaching other clients AFTER the presence_join of the user's NEW
 * connection (resumed on another instance). The store orders them right (the leave's script ran
 * before the join's: that is why the join is `firstConnectionOfUser` and the leave
 * `lastConnectionOfUser`), but each instance publishes its frame only after its script's reply,
 * and an instance delivers its own presence frames locally at once: a slow leaver (here: the
 * reply of its leave script held back by a proxy, in the chaos run: a busy, draining instance)
 * publishes after the joiner has announced. Clients apply presence_leave by user, so the user is
 * gone from their lists while connected, and nothing repairs it (a SIGSTOP pause drops no
 * connection, so no presence re-sync runs).
 *
 * Deterministic: instance C reaches Redis through a proxy that, once armed, holds back
 * everything Redis sends to C from the moment C sends the LEAVE script.
 */

const LEAVE_SHA = createHash('sha1').update(LEAVE_LUA).digest('hex');

/** Whether a chunk C sends to Redis runs the LEAVE script (EVALSHA, or EVAL of its text). */
const sendsLeave = (chunk: Buffer): boolean => {
  const text = chunk.toString('latin1');
  return text.includes(LEAVE_SHA) || text.includes("HINCRBY', KEYS[2], ARGV[2], -1");
};

/** The member list a client holds after applying its presence frames in order (as the SDK's PresenceCache does). */
function view(frames: ServerFrame[], canvasId: string, start: string[]): Set<string> {
  const members = new Set(start);
  for (const f of frames) {
    if (f.canvasId !== canvasId) continue;
    if (f.type === 'presence_state') {
      members.clear();
      for (const m of f.members) members.add(m.userId);
    } else if (f.type === 'presence_join') members.add(f.member.userId);
    else if (f.type === 'presence_leave') members.delete(f.userId);
  }
  return members;
}

describe('finding 11: stale presence_leave of a resumed user (single Redis)', () => {
  let d: Deployment;
  let proxy: TcpProxy;
  let spy: Redis;
  /** Everything published on the rooms' bus channels the test subscribed to. */
  const busFrames: string[] = [];

  beforeAll(async () => {
    const redis = await startRedis('single');
    proxy = await tcpProxy(redis.server!.port);
    const group = await InstanceGroup.start(3, { ...redis.env, REDIS_KEY_PREFIX: 'cm' }, (i): Record<string, string> =>
      i === 2 ? { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } : {},
    );
    await Promise.all(group.instances.map((i) => i.ready()));
    spy = new Redis(redis.server!.url);
    spy.on('smessage', (_ch: string, msg: string) => busFrames.push(msg));
    d = {
      redis,
      prefix: 'cm',
      group,
      instances: group.instances,
      destroy: async () => {
        spy.disconnect();
        await group.destroy().catch(() => undefined);
        await proxy.close();
        await redis.destroy();
      },
    };
  }, 240_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);
  dumpLogsOnFailure(() => d);

  /** u1 on C and `viewer` on `viewerAt`; u1's socket dies, C's leave reply is held, u1 resumes on A; then C's reply goes through. */
  async function scenario(viewerAt: 0 | 1): Promise<{ viewer: ClusterClient; u1: ClusterClient; tenantId: string; frames: ServerFrame[] }> {
    const [A, , C] = d.instances;
    const tenantId = uniqueTenant('f11');
    const canvas = 'r';
    const viewer = await d.instances[viewerAt].connect({ sub: 'viewer', tenantId });
    await viewer.join(canvas);
    await viewer.next('presence_state', 10_000);
    const u1 = await C.connect({ sub: 'u1', tenantId });
    await u1.join(canvas);
    await waitFor(viewer, (f) => f.type === 'presence_join' && f.member.userId === 'u1', 10_000, 'viewer to see u1 join');
    takeFrames(viewer, () => true);

    // Watch the room's bus, to know when C's presence_leave has been published.
    await spy.ssubscribe(busChannel(tenantId, canvas));

    const repairs = async () => metricValue((await A.get('/metrics')).body, 'cm_presence_stale_leaves_total') ?? 0;
    const repairsBefore = await repairs();
    const held = proxy.holdDownAfter(sendsLeave);
    u1.ws.terminate(); // resumable close (1006), like the 1012 of a drain
    await held; // C sent its LEAVE script; Redis ran it; C gets no reply for now

    const back = await A.resume(u1.ack.reconnectToken);
    expect(back.ack).toMatchObject({ resumed: true, rooms: [canvas] });
    await until(() => viewer.frames.some((f) => f.type === 'presence_join' && f.member.userId === 'u1'), 10_000, 'viewer to see u1 (resumed on A) join');

    proxy.release();
    await until(() => busFrames.some((m) => m.includes('"presence_leave"') && m.includes('"userId":"u1"')), 10_000, 'C to publish the leave of u1');
    // A later frame on the room's channel: the observer's join, published by another instance
    // after C's leave (Redis keeps a channel's order). Once the viewer has it, the viewer's
    // instance has handled C's leave.
    const observer = await d.instances[viewerAt === 0 ? 1 : 0].connect({ sub: 'observer', tenantId });
    await observer.join(canvas);
    // The store still has u1 (only the views can be wrong, not the membership): a fresh observer lists u1.
    const state = await observer.next('presence_state', 10_000);
    expect(state.members.map((m: { userId: string }) => m.userId).sort()).toEqual(['observer', 'u1', 'viewer']);
    await until(() => viewer.frames.some((f) => f.type === 'presence_join' && f.member.userId === 'observer'), 10_000, 'viewer to see the observer join');
    // A repair may follow the observer's join (published by the instance holding u1 when it handled C's leave).
    await until(() => view(viewer.frames, canvas, ['viewer', 'u1']).has('u1'), 5_000, "viewer's list to hold u1 again");
    const frames = [...viewer.frames];
    await observer.close();
    // A, which holds u1, counted the stale leave it repaired.
    expect(await repairs()).toBeGreaterThan(repairsBefore);
    return { viewer, u1: back, tenantId, frames };
  }

  it('viewer on the instance where u1 resumed (the chaos case): the stale leave never reaches it, u1 stays listed', async () => {
    const { viewer, frames, u1 } = await scenario(0);
    // ['viewer','u1'] was the view before; the join was already taken from the inbox.
    expect([...view(frames, 'r', ['viewer', 'u1'])].sort()).toEqual(['observer', 'u1', 'viewer']);
    expect(frames.filter((f) => f.type === 'presence_leave')).toEqual([]);
    await Promise.all([viewer.close(), u1.close()]);
  }, 90_000);

  it('viewer on a third instance: it gets the stale leave, then the repair, and lists u1 again', async () => {
    const { viewer, frames, u1 } = await scenario(1);
    expect([...view(frames, 'r', ['viewer', 'u1'])].sort()).toEqual(['observer', 'u1', 'viewer']);
    await Promise.all([viewer.close(), u1.close()]);
  }, 90_000);
});
