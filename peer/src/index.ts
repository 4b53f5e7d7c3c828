export { type PeerDaemon, type PeerDaemonConfig, startPeerDaemon } from './daemon.ts';
