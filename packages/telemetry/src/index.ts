export * from './admin-server.ts';
export * from './logger.ts';
export * from './metrics.ts';
