import { createHash } from 'node:crypto';
import type { BlobRecord } from './blob-record.ts';
import { BlockVerifier, CHECK_BLOCK_BYTES, wholeCheckBlocks } from './check-blocks.ts';

/** A cached piece's bytes, fed in order, checked against its blob's record: a mismatch throws. */
export interface RecordedPieceCheck {
  feed(chunk: Uint8Array): void;
  /** After the piece's last bytes: checks what `feed` could not yet. */
  end(): void;
}

/**
 * How a piece of a cached blob is checked as it is served, or undefined when its record has nothing
 * to check it against: by the record's check blocks (CRC32, block by block, a fraction of sha256's
 * cost) when the piece is made of whole blocks, else by its recorded sha256 at the end.
 */
export function recordedPieceCheck(
  record: BlobRecord,
  piece: { index: number; offset: number; length: number; pieceSize: number },
): RecordedPieceCheck | undefined {
  if (record.checkBlocks && wholeCheckBlocks(piece.offset, piece.length, record.size)) {
    return new BlockVerifier(record.checkBlocks, piece.offset / CHECK_BLOCK_BYTES);
  }
  const recorded = record.pieceSize === piece.pieceSize ? record.pieceHashes[piece.index] : undefined;
  if (!recorded) return undefined;
  const hash = createHash('sha256');
  return {
    feed: (chunk) => {
      hash.update(chunk);
    },
    end: () => {
      const actual = hash.digest('hex');
      if (actual !== recorded) throw new Error(`hashes to ${actual}, recorded ${recorded}`);
    },
  };
}
