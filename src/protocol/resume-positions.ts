import { CANVAS_ID_PATTERN } from './frame-parser.js';

/**
 * Resume positions: per room, the position (`pos`) of the last message the client processed,
 * sent on the upgrade next to the reconnect token so the replay sends exactly what came after.
 *
 * Encoding (protocol v1): base64url without padding of the UTF-8 string
 * `canvasId=pos,canvasId=pos,…`, carried in the subprotocol entry `canvas.pos.<encoded>` (what
 * the SDK sends) or in the query parameter `positions=<encoded>`. base64url because a canvasId
 * may hold `:`, which is not a valid subprotocol token character. Neither `=` nor `,` can occur
 * in a canvasId or a position, so the decoded form splits without escapes.
 *
 * Bounds: at most {@link MAX_RESUME_POSITIONS} entries and {@link MAX_ENCODED_POSITIONS_LENGTH}
 * encoded characters; anything else (bad base64url, a bad canvasId or position, a repeated
 * canvasId) is malformed: the server refuses the upgrade with 400 BAD_REQUEST.
 */

/** Prefix of the subprotocol entry that carries resume positions. */
export const POSITIONS_SUBPROTOCOL_PREFIX = 'canvas.pos.';

/** Most rooms a resume can give positions for (the default `maxRoomsPerConnection`). */
export const MAX_RESUME_POSITIONS = 50;

/** Longest accepted encoded form, in characters (50 rooms of 128-character ids fit). */
export const MAX_ENCODED_POSITIONS_LENGTH = 12 * 1024;

/** A position as the server writes it: `<epoch>.<n>`, epoch 1-16 of [a-z0-9], n a decimal integer. */
export const POSITION_PATTERN = /^[a-z0-9]{1,16}\.(0|[1-9][0-9]{0,15})$/;

/** canvasId → last processed position. */
export type ResumePositions = Map<string, string>;

export function encodeResumePositions(positions: ReadonlyMap<string, string> | Record<string, string>): string {
  const entries = positions instanceof Map ? [...positions] : Object.entries(positions);
  const text = entries.map(([canvasId, pos]) => `${canvasId}=${pos}`).join(',');
  return base64url(text);
}

/** Decodes the encoded form; undefined when it is malformed or out of bounds (see above). */
export function decodeResumePositions(encoded: string): ResumePositions | undefined {
  if (encoded.length === 0 || encoded.length > MAX_ENCODED_POSITIONS_LENGTH || !/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  const text = fromBase64url(encoded);
  if (text === undefined) return undefined;
  const positions: ResumePositions = new Map();
  for (const entry of text.split(',')) {
    const eq = entry.indexOf('=');
    const canvasId = entry.slice(0, eq);
    const pos = entry.slice(eq + 1);
    if (eq < 0 || !CANVAS_ID_PATTERN.test(canvasId) || !POSITION_PATTERN.test(pos) || positions.has(canvasId)) return undefined;
    positions.set(canvasId, pos);
    if (positions.size > MAX_RESUME_POSITIONS) return undefined;
  }
  return positions;
}

// Written without Buffer so the browser SDK can use it (btoa/atob exist in browsers and Node ≥ 16).
function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(encoded: string): string | undefined {
  try {
    const binary = atob(encoded.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
