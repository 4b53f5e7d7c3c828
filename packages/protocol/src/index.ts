export * from './bitfield.ts';
export * from './generated/shoal.js';
export * from './pieces.ts';
export * from './timeouts.ts';
export * from './wire.ts';
