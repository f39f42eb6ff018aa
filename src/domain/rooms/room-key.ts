import { wireRoomId } from '../../protocol/protocol.types.js';

/**
 * Internal, tenant-scoped key of a canvas room: `canvas:{canvasId}@{tenant}`.
 * canvasIds cannot contain `@`, and the tenant is URI-encoded (so it holds no `{`, `}` or `@`),
 * which keeps the key unambiguous and safe inside a Redis Cluster hash tag.
 * Clients only ever see the wire id `canvas:{canvasId}`.
 */
export function roomKey(tenantId: string, canvasId: string): string {
  return `${wireRoomId(canvasId)}@${encodeURIComponent(tenantId)}`;
}

/** Splits a room key back into tenant and canvas. */
export function parseRoomKey(key: string): { tenantId: string; canvasId: string } {
  const at = key.lastIndexOf('@');
  return { canvasId: key.slice('canvas:'.length, at), tenantId: decodeURIComponent(key.slice(at + 1)) };
}
