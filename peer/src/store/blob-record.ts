import { readFile, rm } from 'node:fs/promises';
import type { Digest } from '@shoal/oci';
import { writeFileAtomic } from './atomic-file.ts';
import { decodeCheckBlocks, encodeCheckBlocks } from './check-blocks.ts';
import type { StorePaths } from './paths.ts';

/**
 * What a complete blob was when its digest was verified: its size, the
 * sha256 of each piece of the layout it was assembled in, and the CRC32 of
 * each check block. Its file is checked against this later (size when indexed
 * and opened, piece hashes when a piece is served to a peer, check blocks
 * when the whole blob is served).
 */
export interface BlobRecord {
  size: number;
  pieceSize: number;
  /** sha256 hex of each piece, by index; empty when not known */
  pieceHashes: string[];
  /** CRC32 of each check block (check-blocks.ts), when known */
  checkBlocks?: Uint32Array;
}

export async function writeBlobRecord(paths: StorePaths, digest: Digest, record: BlobRecord): Promise<void> {
  const { checkBlocks, ...rest } = record;
  const stored = checkBlocks ? { ...rest, checkBlocks: encodeCheckBlocks(checkBlocks) } : rest;
  await writeFileAtomic(paths.blobRecord(digest), JSON.stringify(stored));
}

/** The record of a blob, or undefined when there is none (or it cannot be read). */
export async function readBlobRecord(paths: StorePaths, digest: Digest): Promise<BlobRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(paths.blobRecord(digest), 'utf8')) as Record<string, unknown>;
    if (!Number.isSafeInteger(parsed.size) || !Number.isSafeInteger(parsed.pieceSize)) return undefined;
    const size = parsed.size as number;
    const checkBlocks = decodeCheckBlocks(parsed.checkBlocks, size);
    return {
      size,
      pieceSize: parsed.pieceSize as number,
      pieceHashes: Array.isArray(parsed.pieceHashes) ? (parsed.pieceHashes as string[]) : [],
      ...(checkBlocks ? { checkBlocks } : {}),
    };
  } catch {
    return undefined;
  }
}

export async function removeBlobRecord(paths: StorePaths, digest: Digest): Promise<void> {
  await rm(paths.blobRecord(digest), { force: true });
}
