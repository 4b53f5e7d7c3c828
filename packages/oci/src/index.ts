export * from './auth.ts';
export * from './digest.ts';
export * from './errors.ts';
export * from './manifest.ts';
export * from './media-types.ts';
export * from './reference.ts';
export * from './registry-client.ts';
