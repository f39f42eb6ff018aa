import type { IncomingMessage } from 'node:http';

/**
 * The client IP of a request. Without trusted proxies it is the socket's remote address and
 * `X-Forwarded-For` is ignored (anyone can send it). With `hops` trusted proxies it is the
 * entry `hops` places from the right of `X-Forwarded-For` (the leftmost when the list is
 * shorter): entries further left were written by the client and cannot be believed.
 */
export function clientIp(req: IncomingMessage, hops: number): string {
  const remote = req.socket.remoteAddress ?? 'unknown';
  if (hops <= 0) return remote;
  const header = req.headers['x-forwarded-for'];
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return remote;
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) return remote;
  return entries[Math.max(0, entries.length - hops)] ?? remote;
}
