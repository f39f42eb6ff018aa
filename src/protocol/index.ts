export * from './protocol.types.js';
export * from './frame-parser.js';
export * from './subprotocol.js';
export * from './resume-positions.js';
