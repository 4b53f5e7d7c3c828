import { crc32 } from './crc32.ts';

/**
 * Bytes each checksum of a cached blob covers. A whole blob served from the
 * cache is checked block by block against CRC32s taken from the very bytes
 * whose sha256 matched the digest: a bit flip or a truncation on disk is
 * found before the block that holds it is sent, at a fraction of sha256's
 * cost (CRC32 runs at several GB/s a core; sha256 at about 2). CRC32 guards
 * against the disk, not against an adversary who can write the cache
 * directory (one could rewrite the record as well): the background scrub
 * re-hashes every blob with sha256 regardless.
 */
export const CHECK_BLOCK_BYTES = 1024 * 1024;

/** How many check blocks a blob of `size` bytes has (the last one may be short). */
export function checkBlockCount(size: number): number {
  return Math.ceil(size / CHECK_BLOCK_BYTES);
}

/** CRC32 of each CHECK_BLOCK_BYTES block of bytes fed in order from offset 0. */
export class BlockChecksummer {
  readonly #sums: number[] = [];
  #crc = 0;
  #inBlock = 0;
  #position = 0;

  /** Bytes fed so far. */
  get position(): number {
    return this.#position;
  }

  /** Feeds the next bytes; `onBlock` hears of each block they complete, with its CRC32. */
  feed(chunk: Uint8Array, onBlock?: (index: number, crc: number) => void): void {
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(chunk.length - at, CHECK_BLOCK_BYTES - this.#inBlock);
      this.#crc = crc32(chunk.subarray(at, at + take), this.#crc);
      this.#inBlock += take;
      this.#position += take;
      at += take;
      if (this.#inBlock === CHECK_BLOCK_BYTES) this.#endBlock(onBlock);
    }
  }

  /** Ends a short last block, if one is open; `onBlock` hears of it. */
  end(onBlock?: (index: number, crc: number) => void): void {
    if (this.#inBlock > 0) this.#endBlock(onBlock);
  }

  /** The checksums of every block fed and ended. */
  sums(): Uint32Array {
    return Uint32Array.from(this.#sums);
  }

  #endBlock(onBlock: ((index: number, crc: number) => void) | undefined): void {
    const index = this.#sums.length;
    this.#sums.push(this.#crc);
    this.#crc = 0;
    this.#inBlock = 0;
    onBlock?.(index, this.#sums[index]!);
  }
}

/** The checksums as stored in a blob's record: base64 of big-endian uint32s. */
export function encodeCheckBlocks(sums: Uint32Array): string {
  const bytes = Buffer.alloc(sums.length * 4);
  for (let i = 0; i < sums.length; i++) bytes.writeUInt32BE(sums[i]!, i * 4);
  return bytes.toString('base64');
}

/** Stored checksums of a blob of `size` bytes, or undefined when they are not exactly one per block. */
export function decodeCheckBlocks(text: unknown, size: number): Uint32Array | undefined {
  if (typeof text !== 'string') return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== checkBlockCount(size) * 4) return undefined;
  const sums = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < sums.length; i++) sums[i] = bytes.readUInt32BE(i * 4);
  return sums;
}

/** A block of a cached blob does not match its recorded checksum. */
export class CheckBlockMismatchError extends Error {
  readonly block: number;

  constructor(block: number, expected: number, actual: number) {
    super(`block ${block} (${CHECK_BLOCK_BYTES} bytes) has CRC32 ${hex(actual)}, recorded ${hex(expected)}`);
    this.name = 'CheckBlockMismatchError';
    this.block = block;
  }
}

function hex(crc: number): string {
  return crc.toString(16).padStart(8, '0');
}

/**
 * Checks bytes read in order from the start of block `firstBlock` (0: the
 * blob's start) against recorded checksums: `feed` throws as soon as a block
 * it completes does not match, before its caller passes those bytes on. `end`
 * checks the last, short block.
 */
export class BlockVerifier {
  readonly #expected: Uint32Array;
  readonly #firstBlock: number;
  readonly #sums = new BlockChecksummer();

  constructor(expected: Uint32Array, firstBlock = 0) {
    this.#expected = expected;
    this.#firstBlock = firstBlock;
  }

  feed(chunk: Uint8Array): void {
    this.#sums.feed(chunk, (index, crc) => this.#check(index, crc));
  }

  end(): void {
    this.#sums.end((index, crc) => this.#check(index, crc));
  }

  #check(index: number, crc: number): void {
    const block = this.#firstBlock + index;
    const expected = this.#expected[block];
    if (expected !== crc) throw new CheckBlockMismatchError(block, expected ?? 0, crc);
  }
}

/** Whether the bytes [offset, offset + length) of a blob of `size` bytes are whole check blocks. */
export function wholeCheckBlocks(offset: number, length: number, size: number): boolean {
  const end = offset + length;
  return offset % CHECK_BLOCK_BYTES === 0 && (end % CHECK_BLOCK_BYTES === 0 || end === size);
}
