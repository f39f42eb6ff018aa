/**
 * An oracle of protocol v1 for one client frame: what the spec says the server answers, given
 * the canvases the connection is in (issue 2, "After the connection opens" and "Details that
 * are fixed"). Written from the spec, not from the server's parser, for property-based tests.
 */

const CANVAS_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Frames nesting arrays/objects deeper than this are BAD_REQUEST (docs/protocol.md), refused before their id is read. */
export const MAX_FRAME_DEPTH = 64;

/**
 * Nesting depth of a JSON text (a bare object is 1). Counted on the text, so a deep value that
 * a later duplicate key overwrites still counts: the frame as sent is that deep.
 */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}

export type Expected =
  | { kind: 'error'; code: 'BAD_REQUEST' | 'NOT_IN_ROOM' | 'UNAUTHORIZED'; id?: unknown }
  | { kind: 'pong'; id?: unknown }
  | { kind: 'joined' | 'left'; canvasId: string; id?: unknown }
  | { kind: 'delivered'; canvasId: string; data: unknown; id?: unknown };

/** `text` is the frame as the server decodes it; null for a binary frame. */
export function expectedReply(text: string | null, joined: ReadonlySet<string>): Expected {
  if (text === null) return { kind: 'error', code: 'BAD_REQUEST' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'error', code: 'BAD_REQUEST' };
  }
  if (depthOf(text) > MAX_FRAME_DEPTH) return { kind: 'error', code: 'BAD_REQUEST' };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'error', code: 'BAD_REQUEST' };
  const f = value as Record<string, unknown>;
  const has = (k: string) => Object.hasOwn(f, k);
  const rawId = has('id') ? f.id : undefined;
  const idOk = rawId === undefined || (typeof rawId === 'string' && rawId.length <= 64) || (Number.isInteger(rawId) && String(rawId).length <= 64);
  if (!idOk) return { kind: 'error', code: 'BAD_REQUEST' }; // an invalid id is not echoed
  // The echo is the id as JSON carries it back (e.g. -0 comes back as 0).
  const id = rawId === undefined ? undefined : JSON.parse(JSON.stringify(rawId));
  const bad: Expected = { kind: 'error', code: 'BAD_REQUEST', id };
  const canvasId = has('canvasId') && typeof f.canvasId === 'string' && CANVAS_ID.test(f.canvasId) ? f.canvasId : undefined;
  switch (has('type') ? f.type : undefined) {
    case 'ping':
      return { kind: 'pong', id };
    case 'join':
      return canvasId === undefined ? bad : { kind: 'joined', canvasId, id };
    case 'leave':
      if (canvasId === undefined) return bad;
      return joined.has(canvasId) ? { kind: 'left', canvasId, id } : { kind: 'error', code: 'NOT_IN_ROOM', id };
    case 'message':
      if (canvasId === undefined || !has('data')) return bad;
      return joined.has(canvasId) ? { kind: 'delivered', canvasId, data: f.data, id } : { kind: 'error', code: 'NOT_IN_ROOM', id };
    case 'reauth': // a random token never verifies
      return typeof f.token === 'string' && f.token.length > 0 ? { kind: 'error', code: 'UNAUTHORIZED', id } : bad;
    default:
      return bad;
  }
}

/**
 * JSON equality after a round trip through JSON (non-finite numbers become null), iterative so
 * that 29 000-deep arrays do not overflow the stack. Own `__proto__` keys compare like any key.
 */
export function sameJson(received: unknown, sent: unknown): boolean {
  const stack: Array<[unknown, unknown]> = [[received, sent]];
  while (stack.length > 0) {
    const [a, b0] = stack.pop()!;
    const b = typeof b0 === 'number' && !Number.isFinite(b0) ? null : b0;
    if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
      if (a !== b) return false;
      continue;
    }
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
    for (const k of ka) stack.push([(a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]]);
  }
  return true;
}
