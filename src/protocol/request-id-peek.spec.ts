import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseClientFrame } from './frame-parser.js';
import { peekRequestId, peekRequestRefs } from './request-id-peek.js';

const peek = (text: string) => peekRequestId(Buffer.from(text, 'utf8'));

/** The id the full parser sees in a frame (valid or not), as the error of a refused frame would echo it. */
function parsedId(text: string): unknown {
  const r = parseClientFrame(text);
  return r.ok ? r.frame.id : r.id;
}

describe('peekRequestId', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    ['{"type":"ping","id":7}', 7],
    ['{"type":"join","canvasId":"c1","id":"r1"}', 'r1'],
    ['{"id":"first","type":"ping"}', 'first'],
    ['  {\n "id" :\t"spaced" }', 'spaced'],
    ['{"type":"message","canvasId":"c1","data":{"id":"nested","a":[{"id":1}]},"id":"top"}', 'top'],
    ['{"type":"message","data":{"id":"nested only"}}', undefined],
    ['{"data":["id","x"],"k":"id"}', undefined],
    ['{"\\u0069d":"escaped key"}', 'escaped key'],
    ['{"i\\"d":"not the key","id":"the key"}', 'the key'],
    ['{"id":"a\\"quote\\\\"}', 'a"quote\\'],
    ['{"id":"é😀"}', 'é😀'],
    ['{"id":"dup","id":"last wins"}', 'last wins'],
    ['{"id":"valid","id":{"x":1}}', undefined],
    ['{"id":1.0}', 1],
    ['{"id":1.5}', undefined],
    ['{"id":true}', undefined],
    ['{"id":null}', undefined],
    ['{"id":[1]}', undefined],
    [`{"id":"${'x'.repeat(64)}"}`, 'x'.repeat(64)],
    [`{"id":"${'x'.repeat(65)}"}`, undefined],
    ['[{"id":1}]', undefined],
    ['"id"', undefined],
    ['not json at all "id":3', undefined],
    ['{"id":"unterminated', undefined],
    ['{"id":5} trailing', 5],
    ['', undefined],
  ])('%s → %j', (text, expected) => {
    expect(peek(text)).toStrictEqual(expected);
  });

  it('finds the same id as the full parser, for any JSON object frame', () => {
    const text = fc.oneof(fc.string({ maxLength: 70 }), fc.string({ unit: 'binary', maxLength: 70 }), fc.constantFrom('id', 'i"d', '\\id', 'ид'));
    const id = fc.oneof(text, fc.integer(), fc.double(), fc.constant(null), fc.boolean(), fc.jsonValue({ maxDepth: 2 }));
    const frame = fc.record(
      {
        type: fc.constantFrom('ping', 'join', 'message', 'x'),
        canvasId: fc.string(),
        data: fc.jsonValue(),
        id,
        extra: fc.dictionary(text, fc.jsonValue({ maxDepth: 3 })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(frame, fc.boolean(), (f, pretty) => {
        const text = JSON.stringify(f, null, pretty ? 2 : undefined);
        expect(peek(text)).toStrictEqual(parsedId(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('finds the id of a 64 KiB frame without parsing the frame: nothing longer than the id is ever decoded', () => {
    const data = { points: Array.from({ length: 3000 }, (_, i) => [i / 7, i * 3]), label: 'x'.repeat(20_000), nested: { id: 'not this one' } };
    const text = JSON.stringify({ type: 'message', canvasId: 'c1', data, id: 'burst-42' });
    expect(text.length).toBeGreaterThan(60_000);
    const parse = vi.spyOn(JSON, 'parse');
    const decode = vi.spyOn(TextDecoder.prototype, 'decode');
    expect(peek(text)).toBe('burst-42');
    for (const [arg] of parse.mock.calls) expect(String(arg).length).toBeLessThanOrEqual(16);
    for (const [arg] of decode.mock.calls) expect((arg as Uint8Array).length).toBeLessThanOrEqual(16);
  });

  it('peekRequestRefs finds a valid top-level seq too (escaped key spellings included), never a nested or invalid one', () => {
    const refs = (text: string) => peekRequestRefs(new TextEncoder().encode(text));
    expect(refs('{"type":"message","canvasId":"c1","data":{"seq":9},"seq":12,"id":"m"}')).toEqual({ id: 'm', seq: 12 });
    expect(refs('{"\\u0073eq":3,"data":1}')).toEqual({ id: undefined, seq: 3 });
    for (const bad of ['0', '-1', '1.5', '"7"', '9007199254740992', 'null', '[1]']) expect(refs(`{"seq":${bad},"id":1}`)).toEqual({ id: 1, seq: undefined });
    expect(refs('{"data":{"seq":4}}')).toEqual({ id: undefined, seq: undefined });
  });
});
