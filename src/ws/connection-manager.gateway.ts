import { WebSocketGateway } from '@nestjs/websockets';
import { CONNECTION_MANAGER_GATEWAY_FLAG } from './connection-manager.adapter.js';

/**
 * The WebSocket gateway: it declares the Connection Manager's WebSocket server to Nest, which
 * asks the adapter to create it (ConnectionManagerWsAdapter.create: path, verifyClient, limits).
 * It has no hooks and no message handlers: authentication happened on the upgrade, and the
 * adapter hands every accepted socket straight to the ConnectionHandler (src/ws/connection.ts),
 * which parses frames itself.
 */
@WebSocketGateway({ [CONNECTION_MANAGER_GATEWAY_FLAG]: true })
export class ConnectionManagerGateway {}
