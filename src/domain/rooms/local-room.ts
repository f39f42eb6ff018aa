import type { ClientConnection } from '../connections/client-connection.js';
import type { BatchMarked } from '../ports/write-batch.port.js';
import type { LogHead } from '../ports/room-log.port.js';
import type { GapFill } from './log-order.js';

/** The connections of one room that live on this instance: what local fan-out iterates. */
export class LocalRoom implements BatchMarked {
  readonly connections = new Set<ClientConnection>();
  /**
   * The position of the last logged message delivered here (cluster mode: raised to the log's
   * head once the room's bus subscription is confirmed). A connection attached now receives every
   * message after it: that is its `room_joined.pos`. Undefined until known.
   */
  lastPos: string | undefined = undefined;
  /**
   * Cluster mode: the last position delivered here, for log order (LogOrder). Set by the room's
   * first head read and raised only by deliveries, unlike `lastPos`, which later joins raise to
   * the head while earlier messages may still be on their way to the members here.
   */
  delivered: LogHead | undefined = undefined;
  /** Cluster mode: a gap of positions being read from the log (LogOrder), null when none. */
  gapFill: GapFill | null = null;
  /** Joins preparing this room (subscription and head read under way): it is kept while any is. */
  preparing = 0;
  /** Cluster mode: resolves once the room's bus subscription is confirmed. */
  subscribed: Promise<void> | undefined = undefined;
  /** The write batch's mark (WriteBatch.broadcastWrite: the last turn with a broadcast here, and whether it had several). */
  batchMark = 0;
  constructor(
    /** Tenant-scoped internal key (see roomKey). */
    readonly key: string,
    readonly tenantId: string,
    readonly canvasId: string,
    /** `canvas:{canvasId}`, as clients see it. */
    readonly wireId: string,
  ) {}
}
