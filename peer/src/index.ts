export type { ComponentWrappers } from './component-wrappers.ts';
export { type PeerDaemon, type PeerDaemonConfig, startPeerDaemon } from './daemon.ts';
export type { ServedPiece } from './p2p/piece-server.ts';
export type { BlobTask } from './task/blob-task.ts';
export type { OriginResponse, OriginSource } from './task/origin-download.ts';
