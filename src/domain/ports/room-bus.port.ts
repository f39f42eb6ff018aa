/**
 * Cross-instance fan-out: frames for a room travel to the other instances that have members
 * of it. Only cluster mode has one; on a single instance there is nobody else to tell.
 * Delivery is at-most-once (pub/sub): room messages, which must survive a disconnect, are
 * appended to the room's log (RoomLog), which in cluster mode also publishes them on this bus,
 * to every instance with members, the writer included, in log order. `messageId` is then the
 * message's position.
 */
export interface RoomBus {
  /**
   * Starts receiving a room's frames (called when the room's first local connection joins).
   * Resolves once the subscription is confirmed (every frame published from then on arrives);
   * never rejects (a failed subscription is logged and retried by the client library).
   */
  subscribe(roomKey: string): Promise<void>;
  /** Stops receiving them (called when the room's last local connection leaves). */
  unsubscribe(roomKey: string): void;
  /**
   * Sends a frame to the room's connections on the other instances. `except` (a connection id,
   * or for room messages the sender's session id) travels with it: no connection it names gets
   * the frame. Never throws.
   */
  publish(roomKey: string, frame: string, except: string | undefined, messageId: string | undefined): void;
  /** Registers the local delivery of frames published by other instances. */
  onRemoteFrame(handler: (roomKey: string, frame: string, except: string | undefined, messageId: string | undefined) => void): void;
}

/** Injection token of the optional {@link RoomBus} (undefined on a single instance). */
export const RoomBus = Symbol('RoomBus');
