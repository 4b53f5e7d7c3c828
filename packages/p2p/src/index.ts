export * from './content-id.ts';
export * from './frame-reader.ts';
export * from './identity.ts';
export * from './node.ts';
export * from './outbox.ts';
export * from './streams.ts';
