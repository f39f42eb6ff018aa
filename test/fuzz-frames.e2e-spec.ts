import { Logger, type LoggerService } from '@nestjs/common';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionService } from '../src/domain/connections/connection.service.js';
import { RoomService } from '../src/domain/rooms/room.service.js';
import { TestApp } from './support/test-app.js';
import { expectedReply, sameJson, type Expected } from './support/protocol-oracle.js';
import type { ServerFrame, TestClient } from './support/test-client.js';

/**
 * Property-based fuzzing of frame handling against the real server over a real socket.
 * Every frame must end in its documented effect (pong, room_joined + presence_state,
 * room_left, delivery to the room's other members) or an error frame with the documented
 * code (BAD_REQUEST, NOT_IN_ROOM, UNAUTHORIZED for a bad reauth token); never a crash, an
 * unhandled rejection/exception, an internal error log, prototype pollution, or a room and
 * presence state that differs from the true one. One connection per property keeps it fast;
 * a ping with a unique id after each frame marks where that frame's replies end.
 */

const OBSERVED = ['c1', 'c2'];
const PAYLOAD_LIMIT = 60_000; // under maxPayloadBytes (65536): larger frames close with 1009 by design
const SYNC = '~fuzz-sync~';

const processErrors: unknown[] = [];
const internalErrors: string[] = [];
const collect = (err: unknown): void => void processErrors.push(err);
/** Records what the app logs at error level (a listener or the frame queue failing). */
class CollectingLogger implements LoggerService {
  log(): void {}
  warn(): void {}
  debug(): void {}
  verbose(): void {}
  error(message: unknown): void {
    internalErrors.push(String(message).slice(0, 300));
  }
}

// ---- generators: JSON texts built by hand so `__proto__` is an own key and numbers keep their text

const hugeNumber = fc.constantFrom(
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '123456789012345678901234567890',
  '9007199254740993',
  `1${'0'.repeat(400)}`,
  '0.000000000000000000001',
  '1E+2',
);
const deepNesting = fc.oneof(
  fc.integer({ min: 1, max: 29_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.integer({ min: 1, max: 9_000 }).map((d) => `${'{"a":'.repeat(d)}0${'}'.repeat(d)}`),
);
const protoValue = fc.constantFrom(
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"__proto__":null}',
  '{"__proto__":[1]}',
  '{"prototype":{"polluted":1}}',
);
const valueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: hugeNumber },
  { weight: 1, arbitrary: deepNesting },
  { weight: 2, arbitrary: protoValue },
);
const canvasIdText = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('c1', 'c2', 'c3').map((c) => JSON.stringify(c)) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/).map((c) => JSON.stringify(c)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 140 }).map((c) => JSON.stringify(c)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '""',
      `"${'a'.repeat(128)}"`,
      `"${'a'.repeat(129)}"`,
      '"c 1"',
      '"c/1"',
      '"ü"',
      '"__proto__"',
      '"constructor"',
      'null',
      '1',
      '["c1"]',
      '{"c1":1}',
    ),
  },
);
const idText = fc.oneof(
  fc.integer().map(String),
  fc.string({ unit: 'binary', maxLength: 70 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('1.5', '1e21', '-0', 'null', 'true', '[]', '{}', `"${'x'.repeat(64)}"`, `"${'x'.repeat(65)}"`, '9'.repeat(64), '9'.repeat(65), '"__proto__"'),
);
const keyText = fc
  .oneof(
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'id', 'canvasId', 'data', 'token', 'type', ''),
    fc.string({ maxLength: 12 }),
  )
  .map((k) => JSON.stringify(k));

/** `{"type":<one of the valid types>, …}` with the usual fields (sometimes bad) and random extras, in random order. */
const typedFrame = fc
  .record({
    type: fc.constantFrom('join', 'leave', 'message', 'ping', 'reauth'),
    canvasId: fc.option(canvasIdText, { nil: undefined, freq: 4 }),
    data: fc.option(valueText, { nil: undefined, freq: 4 }),
    id: fc.option(idText, { nil: undefined, freq: 2 }),
    token: fc.option(
      fc.oneof(
        fc.string().map((s) => JSON.stringify(s)),
        valueText,
      ),
      { nil: undefined, freq: 3 },
    ),
    extras: fc.array(fc.tuple(keyText, valueText), { maxLength: 5 }),
    extrasFirst: fc.boolean(),
  })
  .map(({ type, extras, extrasFirst, ...fields }) => {
    const main = [
      `"type":"${type}"`,
      ...Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `"${k}":${v}`),
    ];
    const extra = extras.map(([k, v]) => `${k}:${v}`);
    return `{${(extrasFirst ? [...extra, ...main] : [...main, ...extra]).join(',')}}`;
  });

const invalidUtf8 = fc.oneof(
  fc
    .tuple(
      fc.string({ maxLength: 20 }),
      fc.constantFrom([0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]),
      fc.string({ maxLength: 20 }),
    )
    .map(([a, bad, b]) => Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)])),
  fc
    .uint8Array({ minLength: 1, maxLength: 200 })
    .map((u) => Buffer.from(u))
    .filter((b) => !isUtf8(b)),
);

function expectNoInternals(frame: ServerFrame): void {
  expect(typeof frame.message).toBe('string');
  expect(frame.message, 'error frame carries a stack trace or internals').not.toMatch(
    /\n\s*at |\bat .+:\d+:\d+|node_modules|\.[jt]s\b|Error:|TypeError|SyntaxError|Unexpected token|JSON\.parse/,
  );
}

const fits = (text: string): boolean => Buffer.byteLength(text) < PAYLOAD_LIMIT;

describe('frame fuzzing (property-based, real socket)', () => {
  let t: TestApp;
  let fuzz: TestClient;
  let observer: TestClient;
  /** Canvases the fuzz connection is in (the model), and every canvas it ever joined. */
  const joined = new Set<string>();
  const touched = new Set<string>(OBSERVED);
  let frames = 0;
  const seen = new Map<Expected['kind'], number>();

  beforeAll(() => {
    process.on('unhandledRejection', collect);
    process.on('uncaughtException', collect);
  });
  afterAll(() => {
    process.off('unhandledRejection', collect);
    process.off('uncaughtException', collect);
  });

  beforeEach(async () => {
    joined.clear();
    internalErrors.length = 0;
    processErrors.length = 0;
    t = await TestApp.create({ options: { messageRateLimit: 1_000_000, badFrameLimit: 1_000_000, rateLimitPoints: 100_000 } });
    t.app.useLogger(new CollectingLogger());
    observer = await t.connect({ sub: 'obs' });
    for (const c of OBSERVED) {
      await observer.join(c);
      await observer.next('presence_state');
    }
    fuzz = await t.connect({ sub: 'fuzz' });
    await fuzz.join('c1');
    await fuzz.next('presence_state');
    await observer.next('presence_join');
    joined.add('c1');
  });
  afterEach(async () => {
    Logger.overrideLogger(['error']);
    await t.close();
  });

  /** Sends one frame on the shared fuzz connection and checks the replies and effects the oracle expects. */
  async function step(frame: string | Buffer, binary = false): Promise<void> {
    frames++;
    // What the server receives: lone surrogates become U+FFFD in the client's UTF-8 encoding.
    const received = binary ? null : Buffer.from(frame as string, 'utf8').toString('utf8');
    const expected = expectedReply(received, joined);
    const errorsBefore = internalErrors.length;
    seen.set(expected.kind, (seen.get(expected.kind) ?? 0) + 1);
    fuzz.send(frame, binary);
    await fuzz.request({ type: 'ping', id: SYNC }, 5000);
    checkReplies(fuzz.frames.splice(0), expected);
    expect(internalErrors.slice(errorsBefore), 'the app logged an internal error while handling this frame').toEqual([]);
    // The server broadcasts while it handles the frame, before the sync ping above: an observer
    // ping sent now is answered after that broadcast, so the observer's inbox is complete.
    await observer.request({ type: 'ping', id: SYNC }, 5000);
    const delivered = observer.frames.splice(0).filter((f) => f.type === 'message');
    if (expected.kind === 'delivered' && OBSERVED.includes(expected.canvasId)) {
      expect(delivered, `message to ${expected.canvasId} was not delivered to the room (nor refused)`).toHaveLength(1);
      expect(delivered[0]).toMatchObject({ type: 'message', roomId: `canvas:${expected.canvasId}`, canvasId: expected.canvasId, from: { userId: 'fuzz' } });
      expect(sameJson(delivered[0].data, expected.data), 'delivered data differs from the data sent').toBe(true);
    } else {
      expect(delivered, 'a frame that is not a valid message to a joined room reached the room').toEqual([]);
    }
    if (expected.kind === 'joined') {
      joined.add(expected.canvasId);
      touched.add(expected.canvasId);
    }
    if (expected.kind === 'left') joined.delete(expected.canvasId);
  }

  function checkReplies(replies: ServerFrame[], expected: Expected): void {
    for (const f of replies) if (f.type === 'error') expectNoInternals(f);
    const idPart = expected.id === undefined ? {} : { id: expected.id };
    switch (expected.kind) {
      case 'error':
        expect(replies).toStrictEqual([{ type: 'error', code: expected.code, message: expect.any(String), ...idPart }]);
        return;
      case 'pong':
        expect(replies).toStrictEqual([{ type: 'pong', ...idPart }]);
        return;
      case 'joined': {
        const { canvasId } = expected;
        expect(replies).toStrictEqual([
          { type: 'room_joined', roomId: `canvas:${canvasId}`, canvasId, ...idPart, pos: expect.any(String) },
          { type: 'presence_state', roomId: `canvas:${canvasId}`, canvasId, members: expect.any(Array) },
        ]);
        const users = (replies[1].members as Array<{ userId: string; connections: number }>).map((m) => `${m.userId}:${m.connections}`).sort();
        expect(users).toEqual(OBSERVED.includes(canvasId) ? ['fuzz:1', 'obs:1'] : ['fuzz:1']);
        return;
      }
      case 'left':
        expect(replies).toStrictEqual([{ type: 'room_left', roomId: `canvas:${expected.canvasId}`, canvasId: expected.canvasId, ...idPart }]);
        return;
      case 'delivered':
        expect(replies, 'a delivered message gets no reply').toStrictEqual([]);
    }
  }

  /** Invariants after a property: the server serves a fresh client, nothing leaked or polluted, state is true. */
  async function invariants(openSockets: number): Promise<void> {
    expect(processErrors, 'unhandled rejection or exception in the process').toEqual([]);
    expect(internalErrors, 'the app logged an internal error while handling client frames').toEqual([]);
    expect(({} as Record<string, unknown>).polluted, 'Object.prototype was polluted').toBeUndefined();
    const connections = t.get(ConnectionService);
    await t.until(() => connections.count === openSockets, 5000, `ConnectionService.count === ${openSockets}`);
    const rooms = t.get(RoomService);
    for (const c of touched) {
      const members = (await rooms.members('t1', c)).map((m) => `${m.userId}:${m.connections}`).sort();
      const truth = [...(joined.has(c) ? ['fuzz:1'] : []), ...(OBSERVED.includes(c) ? ['obs:1'] : [])].sort();
      expect(members, `presence of ${c}`).toEqual(truth);
      expect(rooms.localRoom('t1', c)?.connections.size ?? 0).toBe(truth.length);
    }
    expect(rooms.localRoomCount).toBe(new Set([...OBSERVED, ...joined]).size);
    expect(joined.has('c1') || t.eventsNamed('room.left').length > 0).toBe(true);
    const fresh = await t.connect({ sub: 'fresh' });
    fresh.send({ type: 'ping', id: 'alive' });
    expect(await fresh.next()).toStrictEqual({ type: 'pong', id: 'alive' });
    await fresh.close();
    await t.until(() => connections.count === openSockets, 5000, 'fresh client cleaned up');
  }

  it('arbitrary strings: documented reply or BAD_REQUEST, connection stays open', async () => {
    const anyString = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc.string({ unit: 'binary-ascii', maxLength: 300 }),
    );
    await fc.assert(
      fc.asyncProperty(anyString, (s) => step(s)),
      { numRuns: 500 },
    );
    await invariants(2);
  });

  it('arbitrary JSON values (fc.jsonValue): documented reply or BAD_REQUEST', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .jsonValue()
          .map((v) => JSON.stringify(v))
          .filter(fits),
        (s) => step(s),
      ),
      { numRuns: 500 },
    );
    await invariants(2);
  });

  it('frames of every valid type with random fields (deep nesting, huge numbers, __proto__/constructor keys)', async () => {
    // Known edge cases run first, whatever the seed: deep data (just under and over the 64-level
    // bound, and far over it), `__proto__` data, out-of-range numbers.
    const examples: Array<[string]> = [
      [`{"type":"message","canvasId":"c1","id":"d63","data":${'['.repeat(63)}${']'.repeat(63)}}`],
      [`{"type":"message","canvasId":"c1","id":"d64","data":${'['.repeat(64)}${']'.repeat(64)}}`],
      [`{"type":"message","canvasId":"c1","data":${'['.repeat(5000)}${']'.repeat(5000)}}`],
      [`{"type":"message","canvasId":"c1","data":${'{"a":'.repeat(5000)}0${'}'.repeat(5000)}}`],
      ['{"type":"message","canvasId":"c1","data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}'],
      ['{"__proto__":{"type":"ping"},"type":"message","canvasId":"c1","data":[1e400,-0,123456789012345678901234567890]}'],
      ['{"type":"join","canvasId":"__proto__","constructor":{"prototype":{"polluted":true}}}'],
    ];
    await fc.assert(
      fc.asyncProperty(typedFrame.filter(fits), (s) => step(s)),
      { numRuns: 1500, examples },
    );
    // The generator reached every documented effect, not only errors.
    for (const kind of ['joined', 'left', 'delivered', 'pong', 'error'] as const) expect(seen.get(kind), kind).toBeGreaterThan(10);
    await invariants(2);
  }, 90_000);

  it('binary frames: BAD_REQUEST, never processed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), (u) => step(Buffer.from(u), true)),
      { numRuns: 300 },
    );
    await invariants(2);
  });

  it('invalid UTF-8 in a text frame: ws closes that connection with 1007; the server and its state are untouched', async () => {
    const connections = t.get(ConnectionService);
    await fc.assert(
      fc.asyncProperty(invalidUtf8, async (bytes) => {
        const victim = await t.connect({ sub: 'utf8' });
        await victim.join('c1');
        victim.send(bytes, false);
        const closed = await victim.closed;
        expect(closed.code).toBe(1007);
        await t.until(() => connections.count === 2, 5000, 'victim unregistered');
      }),
      { numRuns: 40 },
    );
    const closedEvents = t.eventsNamed('connection.closed').filter((e) => e.userId === 'utf8');
    expect(closedEvents).toHaveLength(40);
    for (const e of closedEvents) expect(e).toMatchObject({ code: 1007, resumable: false });
    await invariants(2);
  });

  afterAll(() => {
    console.log(`[fuzz-frames] ${frames} fuzzed frames over the socket, plus 40 invalid UTF-8 connections`);
  });
});
