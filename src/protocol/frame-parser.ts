import type { ClientFrame, RequestId } from './protocol.types.js';

/** canvasId: 1–128 characters of `[A-Za-z0-9._:-]` (protocol v1). */
export const CANVAS_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** Longest accepted `id`, counted on its string form (an integer's decimal digits). */
export const MAX_REQUEST_ID_LENGTH = 64;

/** Deepest accepted nesting of arrays and objects in a frame (its `data` included). */
export const MAX_FRAME_DEPTH = 64;

/**
 * True when `text` nests arrays/objects deeper than `max`. A linear scan that skips strings;
 * it runs only on frames long enough to be that deep, so cursor-sized frames never pay for it.
 * Why: re-serializing a very deep `data` for fan-out overflows the stack.
 */
function nestedDeeperThan(text: string, max: number): boolean {
  if (text.length <= 2 * max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * Why a frame was refused; `id` is set only when the frame's own id was valid, so it can be
 * echoed; `seq` only for a `message` whose own seq was valid (the error settles that message).
 */
export interface FrameError {
  ok: false;
  message: string;
  id?: RequestId;
  seq?: number;
}
export interface ParsedFrame {
  ok: true;
  frame: ClientFrame;
}
export type ParseResult = ParsedFrame | FrameError;

export function isValidCanvasId(value: unknown): value is string {
  return typeof value === 'string' && CANVAS_ID_PATTERN.test(value);
}

/** The rest of a `message`'s rules (its seq already checked). */
function validMessage(frame: Record<string, unknown>, fail: (message: string) => FrameError): ParseResult {
  if (!isValidCanvasId(frame.canvasId)) return fail('canvasId must be 1-128 characters of [A-Za-z0-9._:-]');
  if (!Object.hasOwn(frame, 'data')) return fail('message needs a data field');
  return { ok: true, frame: frame as unknown as ClientFrame };
}

/** The `seq` rule: a positive safe integer (1 … 2^53 - 1). */
export function isValidSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

/** The id rule: a string or an integer of at most 64 characters (an integer's decimal digits). */
export function isValidRequestId(value: unknown): value is RequestId {
  if (typeof value === 'string') return value.length <= MAX_REQUEST_ID_LENGTH;
  return Number.isInteger(value) && String(value).length <= MAX_REQUEST_ID_LENGTH;
}

/**
 * Validates one text frame. Pure and allocation-light: it never throws, whatever the input,
 * and returns the frame object JSON.parse produced (no copy) when it is valid.
 *
 * `__proto__` and `constructor` keys are harmless here: JSON.parse creates them as own
 * properties and nothing below merges client objects into others. They are kept, not
 * stripped: `data` is forwarded verbatim, and hosts that deep-merge it must guard
 * (docs/protocol.md, "data is forwarded verbatim").
 */
export function parseClientFrame(text: string): ParseResult {
  if (nestedDeeperThan(text, MAX_FRAME_DEPTH)) {
    return { ok: false, message: `frame is nested deeper than ${MAX_FRAME_DEPTH} levels` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'frame must be a JSON object' };
  }
  const frame = value as Record<string, unknown>;
  const id = frame.id;
  if (id !== undefined && !isValidRequestId(id)) {
    return { ok: false, message: `id must be a string or an integer of at most ${MAX_REQUEST_ID_LENGTH} characters` };
  }
  const fail = (message: string): FrameError => (id === undefined ? { ok: false, message } : { ok: false, message, id });
  switch (frame.type) {
    case 'message': {
      if (frame.seq !== undefined && !isValidSeq(frame.seq)) return fail('seq must be a positive safe integer');
      if (frame.seq === undefined) return validMessage(frame, fail);
      const failWithSeq = (message: string): FrameError => ({ ...fail(message), seq: frame.seq as number });
      return validMessage(frame, failWithSeq);
    }
    case 'join':
    case 'leave':
      if (!isValidCanvasId(frame.canvasId)) return fail('canvasId must be 1-128 characters of [A-Za-z0-9._:-]');
      return { ok: true, frame: frame as unknown as ClientFrame };
    case 'ping':
      return { ok: true, frame: frame as unknown as ClientFrame };
    case 'reauth':
      if (typeof frame.token !== 'string' || frame.token.length === 0) return fail('reauth needs a token');
      return { ok: true, frame: frame as unknown as ClientFrame };
    default:
      return fail(typeof frame.type === 'string' ? 'unknown frame type' : 'frame needs a string type');
  }
}
