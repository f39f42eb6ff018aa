import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isValidCanvasId, parseClientFrame, type ParseResult } from './frame-parser.js';

const KNOWN_TYPES = ['join', 'leave', 'message', 'ping', 'reauth'];
const parse = (frame: unknown): ParseResult => parseClientFrame(JSON.stringify(frame));

function expectRefused(result: ParseResult, id?: string | number): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.message).toEqual(expect.any(String));
  expect(result.message.length).toBeGreaterThan(0);
  if (id === undefined) expect(result).not.toHaveProperty('id');
  else expect(result.id).toBe(id);
}

describe('parseClientFrame: accepted frames', () => {
  it.each([
    [{ type: 'join', canvasId: 'c1', id: 'r1' }],
    [{ type: 'leave', canvasId: 'c1' }],
    [{ type: 'message', canvasId: 'c1', data: { x: 1 } }],
    [{ type: 'ping', id: 7 }],
    [{ type: 'reauth', token: 'abc', id: 'r9' }],
  ])('accepts %j and returns it unchanged', (frame) => {
    expect(parse(frame)).toEqual({ ok: true, frame });
  });

  it.each([null, 0, -1.5, 'text', '', false, [], [1, [2]], { a: { b: [null] } }])('accepts a message whose data is %j', (data) => {
    const result = parse({ type: 'message', canvasId: 'c1', data });
    expect(result).toEqual({ ok: true, frame: { type: 'message', canvasId: 'c1', data } });
  });

  it.each(['a', 'A.b_c-d:e', 'x'.repeat(128), '0', '...', ':'])('accepts canvasId %j', (canvasId) => {
    expect(isValidCanvasId(canvasId)).toBe(true);
    expect(parse({ type: 'join', canvasId }).ok).toBe(true);
  });
});

describe('parseClientFrame: BAD_REQUEST rules', () => {
  it.each(['', 'not json', '{', '{"type":"ping"', "{'type':'ping'}", 'undefined', '{"type":"ping"}}'])('refuses non-JSON %j', (text) => {
    expectRefused(parseClientFrame(text));
  });

  it.each(['42', '"ping"', 'true', 'null', '[]', '[{"type":"ping"}]'])('refuses the non-object JSON %s', (text) => {
    expectRefused(parseClientFrame(text));
  });

  it.each([[{}], [{ id: 'r1' }], [{ type: 1 }], [{ type: null }], [{ type: ['ping'] }], [{ type: { name: 'ping' } }]])(
    'refuses a missing or non-string type: %j',
    (frame) => {
      expectRefused(parse(frame), (frame as { id?: string }).id);
    },
  );

  it.each(['hello', 'PING', 'Join', 'pong', 'connection_ack', 'error', '', '__proto__', 'constructor', 'toString'])(
    'refuses the unknown type %j (echoing the id)',
    (type) => {
      expectRefused(parse({ type, id: 'u1' }), 'u1');
    },
  );

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['129 chars', 'x'.repeat(129)],
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['an @', 'c1@t2'],
    ['a brace', '{c1}'],
    ['non-ASCII', 'café'],
    ['a newline', 'c1\n'],
    ['a number', 12],
    ['null', null],
    ['an array', ['c1']],
  ])('refuses a canvasId that is %s on join, leave and message', (_what, canvasId) => {
    for (const type of ['join', 'leave', 'message']) {
      const frame: Record<string, unknown> = { type, id: 'b1', data: 1 };
      if (canvasId !== undefined) frame.canvasId = canvasId;
      expectRefused(parse(frame), 'b1');
    }
    if (typeof canvasId === 'string') expect(isValidCanvasId(canvasId)).toBe(false);
  });

  it('refuses a message without data, but accepts data: null', () => {
    expectRefused(parse({ type: 'message', canvasId: 'c1', id: 'm1' }), 'm1');
    expectRefused(parseClientFrame('{"type":"message","canvasId":"c1","data":undefined}'));
    expect(parse({ type: 'message', canvasId: 'c1', data: null })).toEqual({
      ok: true,
      frame: { type: 'message', canvasId: 'c1', data: null },
    });
  });

  it('refuses a message whose data only comes from the prototype chain', () => {
    // "__proto__" in JSON text is an own key named __proto__, never an inherited `data`
    expectRefused(parseClientFrame('{"type":"message","canvasId":"c1","__proto__":{"data":1}}'));
  });

  it('refuses reauth without a usable token', () => {
    expectRefused(parse({ type: 'reauth', id: 'a1' }), 'a1');
    expectRefused(parse({ type: 'reauth', token: '', id: 'a2' }), 'a2');
    expectRefused(parse({ type: 'reauth', token: 42, id: 'a3' }), 'a3');
    expectRefused(parse({ type: 'reauth', token: null }));
  });
});

describe('parseClientFrame: id rules', () => {
  it('accepts a string id of up to 64 characters and an integer id', () => {
    for (const id of ['', 'r', 'x'.repeat(64), 0, 7, -3, 2 ** 53 - 1]) {
      expect(parse({ type: 'ping', id })).toEqual({ ok: true, frame: { type: 'ping', id } });
    }
  });

  it('refuses a 65-character id and does not echo it', () => {
    expectRefused(parse({ type: 'ping', id: 'x'.repeat(65) }));
  });

  it.each([[1.5], [true], [false], [null], [{ a: 1 }], [['r1']]])('refuses the id %j and does not echo it', (id) => {
    expectRefused(parse({ type: 'ping', id }));
  });

  it('does not echo an invalid id even when the frame has other errors', () => {
    expectRefused(parse({ type: 'nope', id: 'x'.repeat(65) }));
    expectRefused(parse({ type: 'join', canvasId: '', id: 2.5 }));
  });

  it('echoes a valid id on every other error', () => {
    expectRefused(parse({ type: 'nope', id: 'e1' }), 'e1');
    expectRefused(parse({ type: 'join', id: 9 }), 9);
    expectRefused(parse({ type: 'message', canvasId: 'c1', id: 'x'.repeat(64) }), 'x'.repeat(64));
    expectRefused(parse({ id: 0 }), 0);
  });
});

describe('parseClientFrame: robustness', () => {
  afterEach(() => {
    delete (Object.prototype as Record<string, unknown>).polluted;
  });

  it('__proto__ keys do not pollute Object.prototype and do not smuggle fields', () => {
    const results = [
      parseClientFrame('{"type":"ping","__proto__":{"polluted":true}}'),
      parseClientFrame('{"type":"message","canvasId":"c1","data":{"__proto__":{"polluted":true}}}'),
      parseClientFrame('{"type":"join","canvasId":"c1","constructor":{"prototype":{"polluted":true}}}'),
    ];
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // a type hidden behind __proto__ is not a type
    expectRefused(parseClientFrame('{"__proto__":{"type":"ping"}}'));
    expectRefused(parseClientFrame('{"__proto__":{"type":"join","canvasId":"c1"},"id":"p1"}'), 'p1');
  });

  it('never throws and always answers ok with a known type or a string message (arbitrary strings)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), (text) => {
        checkResult(parseClientFrame(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws and always answers ok with a known type or a string message (arbitrary JSON values)', () => {
    const frameLike = fc.record(
      {
        type: fc.oneof(fc.constantFrom(...KNOWN_TYPES), fc.string(), fc.jsonValue()),
        canvasId: fc.oneof(fc.constantFrom('c1', '', 'x'.repeat(129), 'a/b'), fc.string(), fc.jsonValue()),
        id: fc.oneof(fc.string({ maxLength: 70 }), fc.integer(), fc.double(), fc.jsonValue()),
        data: fc.jsonValue(),
        token: fc.oneof(fc.string(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), frameLike), (value) => {
        checkResult(parseClientFrame(JSON.stringify(value) ?? 'undefined'));
      }),
      { numRuns: 3000 },
    );
  });
});

function checkResult(result: ParseResult): void {
  if (result.ok) {
    const frame = result.frame as unknown as Record<string, unknown>;
    expect(KNOWN_TYPES).toContain(frame.type);
    if (frame.type === 'join' || frame.type === 'leave' || frame.type === 'message') expect(isValidCanvasId(frame.canvasId)).toBe(true);
    if (frame.type === 'message') expect(Object.hasOwn(frame, 'data')).toBe(true);
    if (frame.type === 'reauth') expect(typeof frame.token).toBe('string');
    const id = frame.id;
    if (id !== undefined) {
      expect(typeof id === 'string' ? id.length <= 64 : Number.isInteger(id)).toBe(true);
    }
  } else {
    expect(typeof result.message).toBe('string');
    if (result.id !== undefined) expect(['string', 'number']).toContain(typeof result.id);
  }
}

describe('nesting depth', () => {
  it('accepts data nested up to MAX_FRAME_DEPTH levels in all and refuses one level more', async () => {
    const { MAX_FRAME_DEPTH, parseClientFrame: parse } = await import('./frame-parser.js');
    // The frame object itself is one level; data adds the rest.
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const ok = parse(`{"type":"message","canvasId":"c1","data":${nest(MAX_FRAME_DEPTH - 1)}}`);
    expect(ok.ok).toBe(true);
    const deep = parse(`{"type":"message","canvasId":"c1","data":${nest(MAX_FRAME_DEPTH)}}`);
    expect(deep).toMatchObject({ ok: false, message: expect.stringContaining('nested deeper') });
    // brackets inside strings do not count
    const inString = parse(`{"type":"message","canvasId":"c1","data":"${'['.repeat(500)}\\\\\\"${'{'.repeat(500)}"}`);
    expect(inString.ok).toBe(true);
  });
});

describe('parseClientFrame: seq', () => {
  it('accepts a positive safe integer seq on a message; refuses any other seq; an otherwise bad message echoes its valid seq', () => {
    expect(parseClientFrame('{"type":"message","canvasId":"c1","data":1,"seq":9007199254740991}')).toMatchObject({ ok: true });
    for (const bad of ['0', '-3', '2.5', '"1"', 'true', 'null', '9007199254740992'])
      expect(parseClientFrame(`{"type":"message","canvasId":"c1","data":1,"seq":${bad},"id":"x"}`)).toEqual({
        ok: false,
        message: 'seq must be a positive safe integer',
        id: 'x',
      });
    expect(parseClientFrame('{"type":"message","canvasId":"c1","seq":4}')).toEqual({ ok: false, message: 'message needs a data field', seq: 4 });
    expect(parseClientFrame('{"type":"message","canvasId":"bad id","data":1,"seq":5,"id":7}')).toMatchObject({ ok: false, id: 7, seq: 5 });
  });
});
