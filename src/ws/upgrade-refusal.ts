import type { UpgradeRefusal } from '../domain/connections/admission.types.js';

/** The HTTP response of a refusal: JSON body `{"error":{"code","message"}}` (plus `quota` for QUOTA_EXCEEDED). */
export function refusalResponse(refusal: UpgradeRefusal): { body: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
  if (refusal.retryAfterS !== undefined) headers['Retry-After'] = String(refusal.retryAfterS);
  if (refusal.status === 401) headers['WWW-Authenticate'] = 'Bearer';
  const error =
    refusal.quota === undefined ? { code: refusal.code, message: refusal.message } : { code: refusal.code, message: refusal.message, quota: refusal.quota };
  return { body: JSON.stringify({ error }), headers };
}
