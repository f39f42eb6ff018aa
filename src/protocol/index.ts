export * from './protocol.types.js';
export * from './frame-parser.js';
