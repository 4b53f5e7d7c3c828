export * from './bitfield.ts';
export * from './pieces.ts';
