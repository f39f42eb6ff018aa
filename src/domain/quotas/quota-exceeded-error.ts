import type { QuotaName } from '../ports/connection-quota-store.port.js';

/** Thrown inside the admission when a connection quota refuses an upgrade (answered 429 QUOTA_EXCEEDED). */
export class QuotaExceededError extends Error {
  constructor(readonly quota: QuotaName) {
    super(quota === 'user' ? 'too many open connections for this user' : 'too many open connections for this tenant');
    this.name = 'QuotaExceededError';
  }
}
