/**
 * Cross-instance fan-out: frames for a room travel to the other instances that have members
 * of it. Only cluster mode has one; on a single instance there is nobody else to tell.
 * Delivery is at-most-once (pub/sub): what must survive a disconnect goes to the session
 * store's replay buffers, not through the bus.
 */
export interface RoomBus {
  /** Starts receiving a room's frames (called when the room's first local connection joins). */
  subscribe(roomKey: string): void;
  /** Stops receiving them (called when the room's last local connection leaves). */
  unsubscribe(roomKey: string): void;
  /**
   * Sends a frame to the room's connections on the other instances. `except` (a connection id,
   * or for room messages the sender's session id) travels with it: no connection it names gets
   * the frame. Never throws.
   */
  publish(roomKey: string, frame: string, except: string | undefined, messageId: string | undefined): void;
  /**
   * Optional: publishes a replayable room message (one with an id) and appends it to the replay
   * buffers of the room's away sessions in one step. A back-end that keeps both in one store
   * (Redis: one script per message instead of two commands) provides it; the domain then does
   * not call `SessionStore.append` for that message. `sender` is the sender's session id: as
   * `except` for the delivery, and no replay buffer of that session gets it. Never throws.
   */
  publishMessage?(roomKey: string, frame: string, sender: string | undefined, messageId: string): void;
  /** Registers the local delivery of frames published by other instances. */
  onRemoteFrame(handler: (roomKey: string, frame: string, except: string | undefined, messageId: string | undefined) => void): void;
}

/** Injection token of the optional {@link RoomBus} (undefined on a single instance). */
export const RoomBus = Symbol('RoomBus');
