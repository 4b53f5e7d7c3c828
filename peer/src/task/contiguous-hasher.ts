import { createHash, type Hash } from 'node:crypto';
import { BlockChecksummer } from '../store/check-blocks.ts';

/**
 * sha256 of a blob computed over its contiguous prefix as bytes arrive, and
 * the CRC32s of its check blocks over the same bytes: once the digest matches,
 * they describe verified bytes. In-order sources feed it directly (no re-read);
 * when pieces land out of order the owner re-reads from disk what `position`
 * has not reached yet.
 */
export class ContiguousHasher {
  readonly #hash: Hash = createHash('sha256');
  readonly #blocks = new BlockChecksummer();
  #position = 0;

  get position(): number {
    return this.#position;
  }

  /** Feeds bytes at `offset`; what lies before the position is skipped, a gap after it is ignored. */
  feed(offset: number, chunk: Uint8Array): void {
    const end = offset + chunk.length;
    if (offset > this.#position || end <= this.#position) return;
    const fresh = offset === this.#position ? chunk : chunk.subarray(this.#position - offset);
    this.#hash.update(fresh);
    this.#blocks.feed(fresh);
    this.#position = end;
  }

  digestHex(): string {
    return this.#hash.digest('hex');
  }

  /** The check blocks of everything fed (call once, after the digest). */
  checkBlocks(): Uint32Array {
    this.#blocks.end();
    return this.#blocks.sums();
  }
}
