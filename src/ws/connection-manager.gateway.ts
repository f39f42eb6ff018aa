import { Logger } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { CloseCode } from '../protocol/protocol.types.js';
import { CONNECTION_MANAGER_GATEWAY_FLAG } from './connection-manager.adapter.js';
import { ConnectionHandler, type WsSocket } from './connection.js';
import { errorMessage } from '../kernel/error-message.js';

/**
 * The WebSocket gateway. Authentication already happened on the upgrade (see
 * ConnectionManagerWsAdapter): by the time `handleConnection` runs, the identity is proven,
 * and the connection handler takes the socket over. The path comes from the module options.
 */
@WebSocketGateway({ [CONNECTION_MANAGER_GATEWAY_FLAG]: true })
export class ConnectionManagerGateway implements OnGatewayConnection {
  private readonly logger = new Logger(ConnectionManagerGateway.name);

  constructor(private readonly handler: ConnectionHandler) {}

  handleConnection(client: WsSocket, request: IncomingMessage): void {
    // Nest does not catch what handleConnection throws (it would take the process down).
    try {
      this.handler.open(client, request);
    } catch (err) {
      this.logger.error(`connection setup failed: ${errorMessage(err)}`);
      client.close(CloseCode.INTERNAL_ERROR, 'internal error');
    }
  }
}
