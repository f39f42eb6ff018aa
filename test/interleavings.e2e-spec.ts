import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

/**
 * Random interleavings of open / join / leave / message / close over 2 tenants × 3 users ×
 * 2 tabs × 2 canvases (both tenants use the same canvasIds), roomCapacity 2.
 * Sequential property: a model predicts every frame each connection receives; the real logs
 * must equal it exactly (so no frame reaches another tenant, nothing is lost or duplicated),
 * presence (RoomService.members) must equal the model's true set after every command, and no
 * room ever holds more than 2 distinct users. Concurrent property: the same commands fired
 * without waiting (joins racing for the last seat, joins racing a close) must still end with
 * presence equal to what the connections were told, capacity kept, and tenants apart.
 * User ids carry the tenant (`ta-u1`), so any frame naming another tenant's user is a leak.
 */

const TENANTS = ['ta', 'tb'] as const;
const USERS = ['u1', 'u2', 'u3'] as const;
const SLOTS = TENANTS.flatMap((tenant) => USERS.flatMap((user) => [0, 1].map((tab) => ({ tenant, userId: `${tenant}-${user}`, tab }))));
const CAPACITY = 2;

type Op = { op: 'open' | 'close' | 'join' | 'leave' | 'message'; slot: number; canvas: 0 | 1 };
const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom('open', 'close', 'join', 'join', 'join', 'leave', 'message', 'message'),
  slot: fc.integer({ min: 0, max: SLOTS.length - 1 }),
  canvas: fc.constantFrom(0 as const, 0 as const, 1 as const), // c1 more often, so rooms fill up
});

interface Live {
  client: TestClient;
  connectionId: string;
  tenant: string;
  userId: string;
  rooms: Set<string>;
  expected: unknown[];
}

const sortMembers = (f: ServerFrame): ServerFrame =>
  f.type === 'presence_state' ? { ...f, members: [...f.members].sort((a: any, b: any) => a.userId.localeCompare(b.userId)) } : f;

/** Every user id a frame names belongs to `tenant`. */
function usersNamed(f: ServerFrame): string[] {
  return [f.from?.userId, f.userId, f.member?.userId, ...(f.members ?? []).map((m: any) => m.userId)].filter((u): u is string => typeof u === 'string');
}

async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('random interleavings across tenants (property-based)', () => {
  let t: TestApp;
  let run = 0;
  let syncSeq = 0;
  beforeAll(async () => {
    t = await TestApp.create({ options: { roomCapacity: CAPACITY, rateLimitPoints: 1_000_000, messageRateLimit: 100_000 } });
  });
  afterAll(async () => {
    await t.close();
  });

  /** Pings and waits for the pong: every frame the server sent this connection before is in its log. */
  async function sync(live: Live, record = true): Promise<void> {
    const id = `sync-${++syncSeq}`;
    live.client.send({ type: 'ping', id });
    if (record) live.expected.push({ type: 'pong', id });
    await until(() => live.client.frames.some((f) => f.type === 'pong' && f.id === id), `pong ${id}`);
  }

  function checkLog(live: Live): void {
    for (const f of live.client.frames)
      for (const u of usersNamed(f)) expect(u.startsWith(`${live.tenant}-`), `${live.userId} got a frame naming ${u}: ${JSON.stringify(f)}`).toBe(true);
    expect(live.client.frames.map(sortMembers), `frames received by ${live.userId} (${live.connectionId})`).toEqual(live.expected);
  }

  it('sequential commands: every connection receives exactly what the model predicts; presence is the true set; capacity holds', async () => {
    const rooms = t.get(RoomService);
    const connections = t.get(ConnectionService);
    const seen = { roomFull: 0, joined: 0, delivered: 0, presenceLeave: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 15, maxLength: 40 }), async (ops) => {
        const canvases = [`r${++run}-c1`, `r${run}-c2`];
        const live = new Map<number, Live>();
        const inRoom = (tenant: string, canvasId: string) => [...live.values()].filter((l) => l.tenant === tenant && l.rooms.has(canvasId));
        const membersOf = (tenant: string, canvasId: string) => {
          const counts = new Map<string, number>();
          for (const l of inRoom(tenant, canvasId)) counts.set(l.userId, (counts.get(l.userId) ?? 0) + 1);
          return [...counts].map(([userId, n]) => ({ userId, connections: n })).sort((a, b) => a.userId.localeCompare(b.userId));
        };
        try {
          for (const { op, slot, canvas } of ops) {
            const { tenant, userId } = SLOTS[slot];
            const canvasId = canvases[canvas];
            const roomId = `canvas:${canvasId}`;
            // A command on a closed tab opens it first (so most commands do something).
            if (!live.has(slot) && op !== 'close') {
              const client = await t.connect({ sub: userId, tenantId: tenant });
              live.set(slot, { client, connectionId: client.ack.connectionId, tenant, userId, rooms: new Set(), expected: [] });
            }
            const me = live.get(slot);
            if (!me || op === 'open') continue;
            const others = inRoom(tenant, canvasId).filter((l) => l !== me);
            const id = `op-${syncSeq}`;
            if (op === 'join') {
              const already = me.rooms.has(canvasId);
              const userPresent = others.some((l) => l.userId === userId);
              if (!already && !userPresent && membersOf(tenant, canvasId).length >= CAPACITY) {
                me.expected.push({ type: 'error', code: 'ROOM_FULL', message: expect.any(String), id });
                seen.roomFull++;
              } else {
                me.rooms.add(canvasId);
                seen.joined++;
                me.expected.push(
                  { type: 'room_joined', id, roomId, canvasId, pos: expect.any(String) },
                  { type: 'presence_state', roomId, canvasId, members: membersOf(tenant, canvasId) },
                );
                if (!already && !userPresent)
                  for (const o of others) o.expected.push({ type: 'presence_join', roomId, canvasId, member: { userId, connections: 1 } });
              }
              me.client.send({ type: 'join', canvasId, id });
            } else if (op === 'leave') {
              if (me.rooms.delete(canvasId)) {
                me.expected.push({ type: 'room_left', id, roomId, canvasId });
                if (!others.some((l) => l.userId === userId)) for (const o of others) o.expected.push({ type: 'presence_leave', roomId, canvasId, userId });
              } else {
                me.expected.push({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id });
              }
              me.client.send({ type: 'leave', canvasId, id });
            } else if (op === 'message') {
              const data = { seq: syncSeq, by: me.connectionId };
              if (me.rooms.has(canvasId)) {
                for (const o of others)
                  o.expected.push({ type: 'message', pos: expect.any(String), roomId, canvasId, from: { userId, connectionId: me.connectionId }, data });
                seen.delivered += others.length;
              } else {
                me.expected.push({ type: 'error', code: 'NOT_IN_ROOM', message: expect.any(String), id });
              }
              me.client.send({ type: 'message', canvasId, data, id });
            } else {
              await sync(me);
              live.delete(slot);
              for (const c of me.rooms) {
                const rest = inRoom(tenant, c);
                if (!rest.some((l) => l.userId === userId))
                  for (const o of rest) o.expected.push({ type: 'presence_leave', roomId: `canvas:${c}`, canvasId: c, userId });
                seen.presenceLeave += rest.length;
              }
              await me.client.close();
              await until(() => t.eventsNamed('connection.closed').some((e) => e.connectionId === me.connectionId), 'connection.closed');
              checkLog(me);
              continue;
            }
            await sync(me);
            // Presence equals the true set, in both tenants, after every command; capacity holds.
            for (const tn of TENANTS) {
              for (const c of canvases) {
                const members = (await rooms.members(tn, c)).sort((a, b) => a.userId.localeCompare(b.userId));
                expect(members, `presence of ${tn}/${c}`).toEqual(membersOf(tn, c));
                expect(members.length).toBeLessThanOrEqual(CAPACITY);
              }
            }
          }
          for (const l of live.values()) await sync(l);
          for (const l of live.values()) checkLog(l);
        } finally {
          await Promise.all([...live.values()].map((l) => l.client.close()));
          await until(() => connections.count === 0, 'all connections closed');
        }
        for (const tn of TENANTS) for (const c of canvases) expect(await rooms.members(tn, c)).toEqual([]);
      }),
      { numRuns: 40 },
    );
    expect(rooms.localRoomCount).toBe(0);
    // The generated sequences really exercised capacity, fan-out and presence on close.
    console.log(`[interleavings] sequential: ${JSON.stringify(seen)}`);
    for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(0);
  }, 120_000);

  it('concurrent commands (joins racing for the last seat, joins racing a close): presence equals what connections were told, capacity kept, tenants apart', async () => {
    const rooms = t.get(RoomService);
    const connections = t.get(ConnectionService);
    const scriptArb = fc.array(
      fc.record({
        slot: fc.integer({ min: 0, max: SLOTS.length - 1 }),
        frames: fc.array(fc.record({ op: fc.constantFrom('join', 'join', 'leave', 'message'), canvas: fc.constantFrom(0, 1) }), { minLength: 1, maxLength: 5 }),
        closeAfter: fc.boolean(),
      }),
      { minLength: 2, maxLength: 10 },
    );
    let roomFull = 0;
    await fc.assert(
      fc.asyncProperty(scriptArb, async (scripts) => {
        const canvases = [`r${++run}-c1`, `r${run}-c2`];
        const clients = await Promise.all(scripts.map(({ slot }) => t.connect({ sub: SLOTS[slot].userId, tenantId: SLOTS[slot].tenant })));
        scripts.forEach((s, i) => {
          s.frames.forEach((f, j) => clients[i].send({ type: f.op, canvasId: canvases[f.canvas], data: j, id: `${i}-${j}` }));
          if (s.closeAfter) void clients[i].close();
        });
        const kept = scripts.map((s, i) => ({ s, c: clients[i] })).filter(({ s }) => !s.closeAfter);
        await Promise.all(kept.map(({ c }) => c.request({ type: 'ping', id: 'done' }, 5000)));
        const closedIds = scripts.flatMap((s, i) => (s.closeAfter ? [clients[i].ack.connectionId] : []));
        await until(() => closedIds.every((id) => t.eventsNamed('connection.closed').some((e) => e.connectionId === id)), 'closes');

        // The truth: what each connection still open was told, replayed in order.
        const truth = new Map<string, Map<string, number>>();
        for (const { s, c } of kept) {
          const tenant = SLOTS[s.slot].tenant;
          for (const f of c.frames) for (const u of usersNamed(f)) expect(u.startsWith(`${tenant}-`), `cross-tenant frame ${JSON.stringify(f)}`).toBe(true);
          roomFull += c.frames.filter((f) => f.type === 'error' && f.code === 'ROOM_FULL').length;
          const mine = new Set<string>();
          for (const f of c.frames) {
            if (f.type === 'room_joined') mine.add(f.canvasId);
            if (f.type === 'room_left') mine.delete(f.canvasId);
          }
          for (const canvasId of mine) {
            const key = `${tenant}/${canvasId}`;
            const users = truth.get(key) ?? new Map<string, number>();
            users.set(SLOTS[s.slot].userId, (users.get(SLOTS[s.slot].userId) ?? 0) + 1);
            truth.set(key, users);
          }
        }
        for (const tn of TENANTS) {
          for (const c of canvases) {
            const members = (await rooms.members(tn, c)).map((m) => `${m.userId}:${m.connections}`).sort();
            const expected = [...(truth.get(`${tn}/${c}`) ?? new Map())].map(([u, n]) => `${u}:${n}`).sort();
            expect(members, `presence of ${tn}/${c}`).toEqual(expected);
            expect(members.length).toBeLessThanOrEqual(CAPACITY);
            expect(rooms.localRoom(tn, c)?.connections.size ?? 0).toBe([...(truth.get(`${tn}/${c}`) ?? new Map()).values()].reduce((a, b) => a + b, 0));
          }
        }
        await Promise.all(kept.map(({ c }) => c.close()));
        await until(() => connections.count === 0, 'all connections closed');
        for (const tn of TENANTS) for (const c of canvases) expect(await rooms.members(tn, c)).toEqual([]);
      }),
      {
        numRuns: 30,
        // Always run one race for the last seat (three users of ta, capacity 2, all joining c1 at
        // once and staying): random scripts alone sometimes produce none, and the check below
        // would then fail on the draw instead of on the product.
        examples: [[[0, 2, 4].map((slot) => ({ slot, frames: [{ op: 'join' as const, canvas: 0 as const }], closeAfter: false }))]],
      },
    );
    expect(rooms.localRoomCount).toBe(0);
    expect(roomFull, 'some joins raced for a full room').toBeGreaterThan(0);
  }, 120_000);
});
