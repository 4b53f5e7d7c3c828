import type { Digest } from '@shoal/oci';
import type { ServedPiece } from './p2p/piece-server.ts';
import type { BlobTask } from './task/blob-task.ts';
import type { OriginSource } from './task/origin-download.ts';

/**
 * Wrappers around the parts of a peer that bytes pass through, for a program
 * that embeds the daemon and wants to observe or alter what crosses them (the
 * end-to-end tests run a peer that lies to the swarm this way). The `shoal`
 * command passes none: every part is used as it is.
 */
export interface ComponentWrappers {
  /** The origin a download task takes its bytes from (stored, hashed, and reported to the scheduler). */
  origin?(source: OriginSource, task: BlobTask): OriginSource;
  /** Where a piece served to another peer is read from. */
  servedPiece?(piece: ServedPiece): ServedPiece;
  /** The sha256 reported to the scheduler for a piece this node fetched from the origin. */
  reportedPieceHash?(digest: Digest, index: number, sha256Hex: string): string;
}
