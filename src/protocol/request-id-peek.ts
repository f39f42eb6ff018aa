import { isValidRequestId, isValidSeq } from './frame-parser.js';
import type { RequestId } from './protocol.types.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** `"id"` written with every character escaped (`"\u0069\u0064"`) is the longest spelling of the key. */
const MAX_ID_KEY_BYTES = 12;
/**
 * Longest raw form of a valid string id: 64 UTF-16 units, each at most a 6-byte `\uXXXX`
 * escape. A longer one cannot be valid and is never decoded.
 */
const MAX_ID_STRING_BYTES = 64 * 6;
/**
 * Longest raw number token that is decoded. A valid integer id has at most 64 digits, but JSON
 * may spell it longer (`1.000…0`); 1024 covers any sane spelling and keeps the decode small.
 */
const MAX_ID_NUMBER_BYTES = 1024;

const utf8 = new TextDecoder();

/** Bytes the scan must look at (quotes, brackets, commas); every other byte is skipped with one table load. */
const STRUCTURAL = new Uint8Array(256);
for (const c of [QUOTE, COMMA, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET]) STRUCTURAL[c] = 1;

function isWhitespace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index of the quote that closes the string opened at `open`, or -1 (unterminated). */
function stringEnd(bytes: Uint8Array, open: number): number {
  let from = open + 1;
  for (;;) {
    const q = bytes.indexOf(QUOTE, from);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let k = q - 1; k > open && bytes[k] === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q;
    from = q + 1;
  }
}

/** Decodes a small slice of JSON text; undefined when it is not valid JSON. */
function decode(bytes: Uint8Array, start: number, end: number): unknown {
  try {
    return JSON.parse(utf8.decode(bytes.subarray(start, end)));
  } catch {
    return undefined;
  }
}

/** Which of the keys the peek looks for the string token `[open, close]` is (escaped spellings included): `id`, `seq`, or neither. */
function keyOf(bytes: Uint8Array, open: number, close: number): 'id' | 'seq' | undefined {
  const length = close - open - 1;
  if (length === 2 && bytes[open + 1] === 0x69 && bytes[open + 2] === 0x64) return 'id';
  if (length === 3 && bytes[open + 1] === 0x73 && bytes[open + 2] === 0x65 && bytes[open + 3] === 0x71) return 'seq';
  if (length > MAX_ID_KEY_BYTES + 6 || !bytes.subarray(open + 1, close).includes(BACKSLASH)) return undefined;
  const key = decode(bytes, open, close + 1);
  return key === 'id' || key === 'seq' ? key : undefined;
}

/**
 * Reads the scalar value that starts at `start` (after the `:` of an `id` or `seq` key), if it
 * is short enough to be a valid one (the caller checks its rule), and where scanning goes on
 * (objects and arrays are left to the caller's scan, which tracks their nesting).
 */
function readIdValue(bytes: Uint8Array, start: number): { value: unknown; next: number } {
  const c = bytes[start];
  if (c === QUOTE) {
    const close = stringEnd(bytes, start);
    if (close < 0) return { value: undefined, next: bytes.length };
    const value = close - start + 1 <= MAX_ID_STRING_BYTES + 2 ? decode(bytes, start, close + 1) : undefined;
    return { value, next: close + 1 };
  }
  let end = start;
  while (
    end < bytes.length &&
    !isWhitespace(bytes[end]) &&
    bytes[end] !== COMMA &&
    bytes[end] !== CLOSE_BRACE &&
    bytes[end] !== OPEN_BRACE &&
    bytes[end] !== OPEN_BRACKET
  ) {
    end++;
  }
  const value = end > start && end - start <= MAX_ID_NUMBER_BYTES ? decode(bytes, start, end) : undefined;
  return { value, next: end };
}

/**
 * The `id` of a client frame, found without parsing the frame: what a `RATE_LIMITED` error
 * echoes for a frame that is dropped unparsed (docs/protocol.md). Returns the id exactly when
 * `parseClientFrame` would see a valid one at the top level of the object; the last `id` key
 * wins, as in JSON.parse. Frames that are not a JSON object, and ids that break the id rule,
 * give undefined.
 *
 * Cost: one pass over the bytes (never more than the frame, which `maxPayloadBytes` bounds),
 * jumping over strings with a native `indexOf`; no allocation but the id itself, and no
 * decoding of the frame to a string. On a 64 KiB frame it costs a fraction of
 * `JSON.parse(data.toString())` (figures: docs/performance.md).
 */
export function peekRequestId(bytes: Uint8Array): RequestId | undefined {
  return peekRequestRefs(bytes).id;
}

/**
 * The `id` and the `seq` of a client frame, found as {@link peekRequestId} finds the id: a
 * RATE_LIMITED error echoes both, so a message with `seq` dropped unparsed is settled (not
 * accepted) for the client, which could not match it to its outbox otherwise. Each is
 * undefined unless valid (the id rule; `seq` a positive safe integer).
 */
export function peekRequestRefs(bytes: Uint8Array): { id: RequestId | undefined; seq: number | undefined } {
  const refs: { id: RequestId | undefined; seq: number | undefined } = { id: undefined, seq: undefined };
  let i = 0;
  while (isWhitespace(bytes[i])) i++;
  if (bytes[i] !== OPEN_BRACE) return refs;
  let depth = 0;
  /** At depth 1: the next string is a key (after `{` or `,`), not a value (after `:`). */
  let expectKey = false;
  const n = bytes.length;
  while (i < n) {
    const c = bytes[i]!;
    if (STRUCTURAL[c] === 0) {
      i++;
      continue;
    }
    if (c === QUOTE) {
      const open = i;
      const close = stringEnd(bytes, open);
      if (close < 0) return refs;
      i = close + 1;
      if (depth !== 1 || !expectKey) continue;
      expectKey = false;
      const key = keyOf(bytes, open, close);
      if (key === undefined) continue;
      let v = i;
      while (isWhitespace(bytes[v])) v++;
      if (bytes[v] !== COLON) continue;
      v++;
      while (isWhitespace(bytes[v])) v++;
      const read = readIdValue(bytes, v);
      if (key === 'id') refs.id = isValidRequestId(read.value) ? read.value : undefined;
      else refs.seq = isValidSeq(read.value) ? read.value : undefined;
      i = read.next;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) return refs;
    } else if (depth === 1 && c === COMMA) expectKey = true;
    i++;
  }
  return refs;
}
