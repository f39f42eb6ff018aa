import type { UpgradeRefusalCode } from '../../protocol/protocol.types.js';
import type { QuotaName } from '../ports/connection-quota-store.port.js';
import type { SessionRecord } from '../ports/session-store.port.js';
import type { Identity } from './identity.js';

/** What the transport read off an upgrade request, and all the admission looks at. */
export interface UpgradeAttempt {
  /** The client IP (after trusted proxy hops). */
  ip: string;
  /** The `Origin` header, when sent. */
  origin: string | undefined;
  /**
   * The JWT presented: undefined when none was, `''` when the `Authorization` header was there
   * but malformed (refused as invalid, never treated as "no credential").
   */
  token: string | undefined;
  /** The reconnect token presented, when resuming. */
  reconnectToken: string | undefined;
  /**
   * Set when the credentials were presented in a form that cannot be used (two JWTs in
   * `Sec-WebSocket-Protocol`, …): refused with 401 and this message at the credential check.
   */
  refusedCredentials?: string | undefined;
  /** Resume positions (canvasId → last processed `pos`), when the upgrade carried them. */
  positions?: ReadonlyMap<string, string>;
  /** Set when the upgrade carried resume positions that are malformed: refused with 400 BAD_REQUEST. */
  refusedPositions?: string;
}

/** What an admitted upgrade carries from the admission to the connection handler. */
export interface AdmittedUpgrade {
  /** The id of the connection to be: its connection quota slot is already taken under it. */
  connectionId: string;
  identity: Identity;
  /**
   * The session's credential deadline, epoch ms: from the JWT presented, or, on a resume with
   * the reconnect token alone, the session's stored one (never a new one).
   */
  credentialDeadline: number;
  ip: string;
  /** Set when resuming: the session to resume (its token is already used up). */
  resume?: SessionRecord;
  /** Resuming: the client's last processed position per canvas (what the replay starts after). */
  positions?: ReadonlyMap<string, string>;
}

/** A refused upgrade: answered with an HTTP response; no WebSocket is opened. */
export interface UpgradeRefusal {
  status: number;
  code: UpgradeRefusalCode;
  message: string;
  /** Seconds, rounded up; sent as `Retry-After`. */
  retryAfterS?: number;
  /** QUOTA_EXCEEDED only: which quota is used up (sent in the body as `error.quota`). */
  quota?: QuotaName;
}

export type AdmissionDecision = { ok: true; upgrade: AdmittedUpgrade } | { ok: false; refusal: UpgradeRefusal };

/** Builds a refusal decision. */
export function refuse(refusal: UpgradeRefusal): AdmissionDecision {
  return { ok: false, refusal };
}
