import { EventEmitter2 } from '@nestjs/event-emitter';
import { createHook } from 'node:async_hooks';
import type { Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionStore } from '../src/domain/ports/session-store.port.js';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';

/**
 * Short churn soak (the long one is scripts/soak/churn.mjs): 1000 connect → join → message →
 * close cycles, 50 at a time. Afterwards the registries are empty, the away sessions have
 * expired (reconnectTokenTtlMs is short here), no timers or listeners remain beyond the
 * baseline, and the heap after GC is back within HEAP_MARGIN of the baseline.
 */

/** 1000 by default: loopback connects cost ~8 ms each on the 2-core CI sandbox; CHURN_SHORT_CYCLES raises it. */
const CYCLES = Number(process.env.CHURN_SHORT_CYCLES ?? 1000);
const CONCURRENCY = 50;
const CANVASES = 20;
const TTL_MS = 500;
/** Heap growth allowed after GC: 3 MiB, i.e. a leak of about 3 KB per cycle over 1000 cycles fails. */
const HEAP_MARGIN = 3 * 1024 * 1024;

/** `gc()` without --expose-gc: the flag can be set at run time and the function taken from a new context. */
function getGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Every timer (ref'd or unref'd, which getActiveResourcesInfo does not list) created and not yet cleared or fired. */
function trackTimers(): { live: () => number; stop: () => void } {
  const live = new Set<number>();
  const hook = createHook({
    init: (id, type) => void (type === 'Timeout' && live.add(id)),
    destroy: (id) => void live.delete(id),
  }).enable();
  return { live: () => live.size, stop: () => hook.disable() };
}

/** One cycle on a bare ws client (not kept anywhere, so the test itself does not grow). */
function cycle(url: string, canvasId: string, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const fail = (why: string) => {
      ws.terminate();
      reject(new Error(`cycle ${i}: ${why}`));
    };
    const timer = setTimeout(() => fail('timed out'), 15_000);
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString());
      if (f.type === 'connection_ack') ws.send(JSON.stringify({ type: 'join', canvasId, id: 'j' }));
      else if (f.type === 'room_joined') {
        ws.send(JSON.stringify({ type: 'message', canvasId, data: { i } }));
        ws.send(JSON.stringify({ type: 'ping', id: 'p' }));
      } else if (f.type === 'pong') ws.close(1000);
      else if (f.type === 'error') fail(`error frame ${f.code}`);
    });
    ws.once('unexpected-response', (_req, res) => fail(`refused ${res.statusCode}`));
    ws.once('error', (err) => fail(err.message));
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function churn(t: TestApp, cycles: number): Promise<void> {
  const tokens = Array.from({ length: 100 }, (_, u) => `${t.url}?token=${t.token({ sub: `u${u}`, tenantId: `t${u % 3}` })}`);
  let next = 0;
  const worker = async () => {
    while (next < cycles) {
      const i = next++;
      await cycle(tokens[i % tokens.length], `c${i % CANVASES}`, i);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

describe('churn soak (short)', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });

  it(`${CYCLES} connect → join → message → close cycles leave no connection, room, session, timer, listener or heap behind`, async () => {
    t = await TestApp.create({ options: { rateLimitPoints: 1_000_000, reconnectTokenTtlMs: TTL_MS, maxConnections: 1000 } });
    const connections = t.get(ConnectionService);
    const rooms = t.get(RoomService);
    const sessions = t.get<{ size: number; awayCount: number }>(SessionStore);
    const emitter = t.get(EventEmitter2);
    const server = t.app.getHttpServer() as Server;
    const listeners = () => ({
      events: emitter.eventNames().reduce((n, e) => n + emitter.listenerCount(e as string), 0),
      server: ['upgrade', 'connection', 'request', 'listening', 'close', 'error'].map((e) => server.listenerCount(e)).join(','),
    });
    const quiet = async () => {
      await t.until(() => connections.count === 0 && rooms.localRoomCount === 0, 10_000, 'registries empty');
      await t.until(() => sessions.size === 0 && sessions.awayCount === 0, 10_000, 'away sessions expired');
      await sleep(100);
    };
    const gc = getGc();
    const heap = () => {
      t.events.length = 0; // what the test app records is the test's memory, not the server's
      gc?.();
      gc?.();
      return process.memoryUsage().heapUsed;
    };

    await churn(t, 200); // warm-up: JIT, pools, lazily created structures
    await quiet();
    const base = { heap: heap(), timeouts: timeouts(), listeners: listeners() };
    const timers = trackTimers();
    const started = Date.now();
    await churn(t, CYCLES);
    const took = Date.now() - started;
    await quiet();
    const after = { heap: heap(), timeouts: timeouts(), listeners: listeners() };
    const timersLeft = timers.live();
    timers.stop();

    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    console.log(
      `[churn-short] ${CYCLES} cycles (concurrency ${CONCURRENCY}) in ${took} ms; heap ${gc ? `${mb(base.heap)} → ${mb(after.heap)} (margin ${mb(HEAP_MARGIN)})` : 'not checked (no gc)'}; ` +
        `Timeout handles ${base.timeouts} → ${after.timeouts}, timers created during the churn still alive: ${timersLeft}; listeners ${JSON.stringify(base.listeners)} → ${JSON.stringify(after.listeners)}`,
    );
    expect(connections.count).toBe(0);
    expect(rooms.localRoomCount).toBe(0);
    for (let c = 0; c < CANVASES; c++) for (let tn = 0; tn < 3; tn++) expect(await rooms.members(`t${tn}`, `c${c}`)).toEqual([]);
    expect(sessions.size).toBe(0);
    expect(after.timeouts).toBeLessThanOrEqual(base.timeouts);
    // A few are legitimate (the upgrade limiter's window for the one client IP, the test's own polling).
    expect(timersLeft).toBeLessThanOrEqual(5);
    expect(after.listeners).toEqual(base.listeners);
    if (gc) expect(after.heap - base.heap).toBeLessThan(HEAP_MARGIN);
    else console.log('[churn-short] heap check skipped: gc() unavailable');
  }, 120_000);
});
