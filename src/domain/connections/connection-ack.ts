import type { ConnectionAckFrame } from '../../protocol/protocol.types.js';
import type { ClientConnection } from './client-connection.js';

/** The `connection_ack` of a fresh (`resumed: false`, no rooms) or resumed connection. */
export function connectionAck(
  connection: ClientConnection,
  ack: { reconnectToken: string; heartbeatIntervalMs: number; resumed: boolean; rooms: string[]; missed?: ConnectionAckFrame['missed']; lastSeq?: number },
): ConnectionAckFrame {
  const frame: ConnectionAckFrame = {
    type: 'connection_ack',
    connectionId: connection.id,
    sessionId: connection.sessionId,
    userId: connection.userId,
    tenantId: connection.tenantId,
    reconnectToken: ack.reconnectToken,
    heartbeatIntervalMs: ack.heartbeatIntervalMs,
    resumed: ack.resumed,
    rooms: ack.rooms,
  };
  if (ack.missed !== undefined) frame.missed = ack.missed;
  if (ack.lastSeq !== undefined) frame.lastSeq = ack.lastSeq;
  return frame;
}
