import { Logger } from '@nestjs/common';
import { errorMessage } from '../../kernel/error-message.js';
import type { PresenceStateFrame } from '../../protocol/protocol.types.js';
import type { MembershipStore } from '../ports/membership-store.port.js';
import type { LocalRoom } from '../rooms/local-room.js';
import type { LocalRoomRegistry } from '../rooms/local-room.registry.js';

/** Rooms whose members are read at the same time during a pass. Default 16. */
export const PRESENCE_RESYNC_CONCURRENCY = 16;

/** What one pass did. */
export interface PresenceResyncPass {
  /** Rooms with local members when the pass started. */
  rooms: number;
  /** presence_state frames written to local connections. */
  sent: number;
  /** Rooms whose members could not be read (the back-end went away again). */
  failed: number;
}

/**
 * Cluster mode's repair of presence after a back-end outage (issue 16): presence_join and
 * presence_leave travel between instances on the room bus, which is at-most-once pub/sub, so
 * those published while Redis was unreachable are gone. A pass sends every local connection of
 * every room with members on this instance one fresh `presence_state` (the room's members as the
 * membership store has them now), the same frame a join answers with: one members read per
 * room, at most `concurrency` reads at a time, serialized once per room.
 *
 * Passes never overlap: a request made while one runs makes exactly one more pass after it (an
 * outage ends on every instance at about the same time, so requests come in bursts). A later
 * pass reads later, so the last presence_state a connection gets is the freshest read.
 *
 * Connections whose resume is still being set up (`held`) are skipped: the resume sends them
 * their own presence_state after the acknowledgement, and nothing may come before that.
 */
export class PresenceResync {
  private readonly logger = new Logger(PresenceResync.name);
  private running = false;
  private again = false;
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly membership: MembershipStore,
    private readonly local: LocalRoomRegistry,
    private readonly concurrency = PRESENCE_RESYNC_CONCURRENCY,
  ) {}

  /** Asks for a pass: starts one now, or one more after the pass that is running. Never throws. */
  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.current = this.passes();
  }

  /** Resolves when no pass is running or queued (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.current;
  }

  private async passes(): Promise<void> {
    try {
      do {
        this.again = false;
        const pass = await this.pass();
        if (pass.failed > 0) this.logger.warn(`presence re-sync: ${pass.failed} of ${pass.rooms} rooms could not be read; the next recovery retries`);
        else if (pass.rooms > 0) this.logger.log(`presence re-sync: presence_state sent to ${pass.sent} connections in ${pass.rooms} rooms`);
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  /** One pass over the rooms with local members, in bounded concurrency. */
  async pass(): Promise<PresenceResyncPass> {
    // Rooms kept only while a join prepares them have nobody to tell yet.
    const keys = [...this.local.values()].filter((room) => room.connections.size > 0).map((room) => room.key);
    const result: PresenceResyncPass = { rooms: keys.length, sent: 0, failed: 0 };
    // One iterator shared by the workers: each takes the next room when its read is done.
    const queue = keys.values();
    const worker = async (): Promise<void> => {
      for (const key of queue) {
        try {
          const members = await this.membership.members(key);
          // The local room as it is now: it may have gained or lost connections (or gone) during the read.
          const room = this.local.get(key);
          if (room) result.sent += sendState(room, members);
        } catch (err) {
          if (result.failed++ === 0) this.logger.warn(`presence re-sync: members of a room could not be read: ${errorMessage(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, keys.length) }, worker));
    return result;
  }
}

function sendState(room: LocalRoom, members: PresenceStateFrame['members']): number {
  const frame: PresenceStateFrame = { type: 'presence_state', roomId: room.wireId, canvasId: room.canvasId, members };
  const text = JSON.stringify(frame);
  let sent = 0;
  for (const connection of room.connections) if (connection.held === null && connection.send(text)) sent++;
  return sent;
}
