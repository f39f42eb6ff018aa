// Types of checker.mjs for the TypeScript tests (test/chaos-checker-rules.e2e-spec.ts).

export declare const STATUS: { NONE: 0; SENT: 1; ACKED: 2; REFUSED: 3; UNACKNOWLEDGED: 4 };

/** One client as a load worker reports it (load-worker.mjs report()). */
export interface CheckedClient {
  idx: number;
  room: string;
  /** Strokes sent: counters 1..sent. */
  sent: number;
  /** Per counter (index = counter), a STATUS value. */
  status: ArrayLike<number>;
  sentAt?: ArrayLike<number>;
  settledAt?: ArrayLike<number>;
  refusedCodes: Record<string, number>;
  sendThrows?: Record<string, number>;
  /** Sender index → counters received from it, in arrival order. */
  got: Map<number, number[]>;
  echoes: number;
  states: Array<{ t: number; state: string; missed?: string; closeCode?: number }>;
  errors: Record<string, number>;
  truncations: Array<{ t: number; before: string | null; after: string | null }>;
  promiseSends: boolean;
}

export interface Figures {
  strokesSent: number;
  strokesAcked: number;
  strokesRefused: number;
  strokesUnacknowledged: number;
  pendingAtEnd: number;
  deliveriesExpected: number;
  deliveriesReceived: number;
  lost: number;
  duplicated: number;
  reordered: number;
  echoed: number;
  deliveredDespiteRefusal: number;
  unknownStrokes: number;
  unacknowledgedReached: { all: number; some: number; none: number };
  resumes: { replayed: number; none: number; truncated: number; truncatedJustified: number; other: number };
  freshLogins: number;
  sessionsLost: number;
  failures: string[];
  [more: string]: unknown;
}

export declare function check(report: { clients: CheckedClient[] }, options?: { logBound?: number | null }): Figures;
