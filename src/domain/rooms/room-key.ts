import { wireRoomId } from '../../protocol/protocol.types.js';

const ESCAPES: Record<string, string> = { '%': '%25', '@': '%40', '{': '%7B', '}': '%7D' };
const UNESCAPES: Record<string, string> = { '%25': '%', '%40': '@', '%7B': '{', '%7D': '}' };

/** Escapes the four characters that would make a key ambiguous or break a hash tag. Total: never throws. */
function escapeTenant(tenantId: string): string {
  return tenantId.replace(/[%@{}]/g, (c) => ESCAPES[c] ?? c);
}

/**
 * Internal, tenant-scoped key of a canvas room: `canvas:{canvasId}@{tenant}`.
 * canvasIds cannot contain `@`, and the tenant has `%`, `@`, `{` and `}` percent-escaped, which
 * keeps the key unambiguous and safe inside a Redis Cluster hash tag. (Not encodeURIComponent:
 * it throws on a lone surrogate, which a JWT claim may hold.)
 * Clients only ever see the wire id `canvas:{canvasId}`.
 */
export function roomKey(tenantId: string, canvasId: string): string {
  return `${wireRoomId(canvasId)}@${escapeTenant(tenantId)}`;
}

/** Splits a room key back into tenant and canvas. */
export function parseRoomKey(key: string): { tenantId: string; canvasId: string } {
  const at = key.lastIndexOf('@');
  return { canvasId: key.slice('canvas:'.length, at), tenantId: key.slice(at + 1).replace(/%(25|40|7B|7D)/g, (m) => UNESCAPES[m] ?? m) };
}
