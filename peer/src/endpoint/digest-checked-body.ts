import { createHash } from 'node:crypto';
import type { Digest } from '@shoal/oci';
import type { BufferPool } from '../p2p/buffer-pool.ts';
import { BlockVerifier, CHECK_BLOCK_BYTES, CheckBlockMismatchError } from '../store/check-blocks.ts';
import type { FileHashing, FileHashOptions } from '../store/file-hasher.ts';
import type { BodySource } from './body-io.ts';

/** A cached blob's bytes, read back, are not what was stored (`detail` says how). */
export class CachedBlobMismatchError extends Error {
  constructor(digest: Digest, detail: string) {
    super(`cached blob ${digest}: ${detail}`);
    this.name = 'CachedBlobMismatchError';
  }
}

/**
 * A whole cached blob's body, checked against the CRC32 of each check block recorded when its
 * digest was verified (see check-blocks.ts): a read that completes a block that does not match
 * fails instead, so that block is never sent and the response is cut off. The check runs on the
 * bytes already read for sending: no second read, a fraction of sha256's cost.
 */
export function blockCheckedBody(
  source: BodySource,
  digest: Digest,
  size: number,
  sums: Uint32Array,
): BodySource {
  const verifier = new BlockVerifier(sums);
  return checkedBody(source, (bytes, position) => {
    try {
      verifier.feed(bytes);
      if (position >= size) verifier.end();
    } catch (error) {
      if (error instanceof CheckBlockMismatchError) throw new CachedBlobMismatchError(digest, error.message);
      throw error;
    }
  });
}

/**
 * Bytes [start, end) of a cached blob, checked as the whole blob is: each check block they touch is
 * read whole into a buffer of `pool` (its buffers at least CHECK_BLOCK_BYTES long, one taken on the
 * first read and given back on close) and checked against its recorded CRC32 before any byte of it
 * is copied out, so a rotten block gives nothing and the response is cut off. `open(offset)` reads
 * the blob's file from `offset` on. A small range costs the read and check of one or two blocks.
 */
export function rangeBlockCheckedBody(
  open: (offset: number) => BodySource,
  digest: Digest,
  size: number,
  sums: Uint32Array,
  range: { start: number; end: number },
  pool: BufferPool,
): BodySource {
  if (pool.size < CHECK_BLOCK_BYTES)
    throw new RangeError('the pool gives buffers smaller than a check block');
  let scratch: Buffer | undefined;
  const firstBlock = Math.floor(range.start / CHECK_BLOCK_BYTES);
  const source = open(firstBlock * CHECK_BLOCK_BYTES);
  const verifier = new BlockVerifier(sums, firstBlock);
  /** the block in `scratch`: its offset in the blob and its length (0: none yet) */
  let blockStart = firstBlock * CHECK_BLOCK_BYTES;
  let blockLength = 0;
  let position = range.start;
  const loadNextBlock = async (scratch: Buffer) => {
    blockStart += blockLength;
    const length = Math.min(CHECK_BLOCK_BYTES, size - blockStart);
    let loaded = 0;
    while (loaded < length) {
      const filled = await source.fill(scratch.subarray(loaded, length));
      if (filled <= 0) break;
      loaded += filled;
    }
    if (loaded < length)
      throw new CachedBlobMismatchError(digest, `ends at ${blockStart + loaded} of ${size} bytes`);
    try {
      verifier.feed(scratch.subarray(0, length));
      if (blockStart + length === size) verifier.end();
    } catch (error) {
      if (error instanceof CheckBlockMismatchError) throw new CachedBlobMismatchError(digest, error.message);
      throw error;
    }
    blockLength = length;
  };
  return {
    async fill(into) {
      if (position >= range.end) return 0;
      scratch ??= pool.take();
      if (position >= blockStart + blockLength) await loadNextBlock(scratch);
      const from = position - blockStart;
      const take = Math.min(into.length, blockLength - from, range.end - position);
      scratch.copy(into, 0, from, from + take);
      position += take;
      return take;
    },
    async close() {
      // Only copies of its bytes went out: the buffer is free again as soon as no read is under way.
      if (scratch) pool.give(scratch);
      scratch = undefined;
      await source.close();
    },
  };
}

/**
 * A whole blob's body, hashed as it is read. The read that brings the last
 * bytes fails instead when the digest does not match, so those bytes are
 * never sent and the response is cut off rather than ended cleanly.
 */
export function digestCheckedBody(source: BodySource, digest: Digest, size: number): BodySource {
  const hash = createHash('sha256');
  return checkedBody(source, (bytes, position) => {
    hash.update(bytes);
    if (position !== size) return;
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== digest) throw new CachedBlobMismatchError(digest, `hashes to ${actual}`);
  });
}

/** `source`, each read handed to `check` (with the position after it) before it is given out; `check` throws to stop it. */
function checkedBody(source: BodySource, check: (bytes: Uint8Array, position: number) => void): BodySource {
  let position = 0;
  return {
    async fill(into) {
      const filled = await source.fill(into);
      if (filled <= 0) return filled;
      position += filled;
      check(into.subarray(0, filled), position);
      return filled;
    },
    close: () => source.close(),
  };
}

/** How far the hash of a cached blob may read ahead of the bytes sent: a client that stops reading stops it too. */
const HASH_AHEAD_BYTES = 16 * 1024 * 1024;

/**
 * A whole cached blob's body, checked by a hash of its file computed alongside it (`hash`, on a
 * worker thread, paced by the bytes sent): the read that brings the last bytes waits for that hash,
 * and fails instead when it does not match the digest or covers fewer bytes than the blob has. The
 * file is read twice, the second time from the page cache; the event loop only sends.
 */
export function fileCheckedBody(
  source: BodySource,
  digest: Digest,
  size: number,
  hash: (options: FileHashOptions) => FileHashing,
): BodySource {
  const stop = new AbortController();
  const hashing = hash({ signal: stop.signal, allowed: HASH_AHEAD_BYTES });
  // Awaited by the last read only: a response that ends before it must not leave its failure unheard.
  hashing.result.catch(() => {});
  let position = 0;
  return {
    async fill(into) {
      const filled = await source.fill(into);
      if (filled <= 0) return filled;
      position += filled;
      hashing.allow(position + HASH_AHEAD_BYTES);
      if (position === size) {
        const { hex, bytes } = await hashing.result;
        const actual = bytes === size ? `sha256:${hex}` : `sha256:${hex} over ${bytes} of ${size} bytes`;
        if (actual !== digest) throw new CachedBlobMismatchError(digest, `hashes to ${actual}`);
      }
      return filled;
    },
    async close() {
      stop.abort();
      await source.close();
    },
  };
}
