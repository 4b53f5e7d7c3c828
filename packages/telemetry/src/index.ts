export * from './admin-page.ts';
export * from './admin-server.ts';
export * from './http-replies.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './runtime-tuning.ts';
