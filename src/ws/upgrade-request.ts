import type { IncomingMessage } from 'node:http';
import type { UpgradeAttempt } from '../domain/connections/admission.types.js';
import { extractToken } from './auth.js';
import { clientIp } from './client-ip.js';

/**
 * Reads what the admission needs off an upgrade request: the client IP (`trustProxyHops`
 * trusted proxies), the Origin, the JWT (Authorization header, else `?token=`) and the
 * `?reconnectToken=`. Nothing of the request is kept.
 */
export function upgradeAttemptOf(req: IncomingMessage, trustProxyHops: number): UpgradeAttempt {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const reconnectToken = query.get('reconnectToken');
  return {
    ip: clientIp(req, trustProxyHops),
    origin: req.headers.origin,
    token: extractToken(req, query),
    reconnectToken: reconnectToken === null ? undefined : reconnectToken,
  };
}
