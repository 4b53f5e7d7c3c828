import { readFile, rm } from 'node:fs/promises';
import type { Digest } from '@shoal/oci';
import { writeFileAtomic } from './atomic-file.ts';
import type { StorePaths } from './paths.ts';

/**
 * What a complete blob was when its digest was verified: its size, and the
 * sha256 of each piece of the layout it was assembled in. Its file is
 * checked against this later (size when indexed and opened, piece hashes
 * when a piece is served to a peer).
 */
export interface BlobRecord {
  size: number;
  pieceSize: number;
  /** sha256 hex of each piece, by index; empty when not known */
  pieceHashes: string[];
}

export async function writeBlobRecord(paths: StorePaths, digest: Digest, record: BlobRecord): Promise<void> {
  await writeFileAtomic(paths.blobRecord(digest), JSON.stringify(record));
}

/** The record of a blob, or undefined when there is none (or it cannot be read). */
export async function readBlobRecord(paths: StorePaths, digest: Digest): Promise<BlobRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(paths.blobRecord(digest), 'utf8')) as Partial<BlobRecord>;
    if (!Number.isSafeInteger(parsed.size) || !Number.isSafeInteger(parsed.pieceSize)) return undefined;
    return {
      size: parsed.size as number,
      pieceSize: parsed.pieceSize as number,
      pieceHashes: Array.isArray(parsed.pieceHashes) ? parsed.pieceHashes : [],
    };
  } catch {
    return undefined;
  }
}

export async function removeBlobRecord(paths: StorePaths, digest: Digest): Promise<void> {
  await rm(paths.blobRecord(digest), { force: true });
}
