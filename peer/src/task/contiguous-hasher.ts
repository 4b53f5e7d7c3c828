import { createHash, type Hash } from 'node:crypto';

/**
 * sha256 of a blob computed over its contiguous prefix as bytes arrive.
 * In-order sources feed it directly (no re-read); when pieces land out of
 * order the owner re-reads from disk what `position` has not reached yet.
 */
export class ContiguousHasher {
  readonly #hash: Hash = createHash('sha256');
  #position = 0;

  get position(): number {
    return this.#position;
  }

  /** Feeds bytes at `offset`; what lies before the position is skipped, a gap after it is ignored. */
  feed(offset: number, chunk: Uint8Array): void {
    const end = offset + chunk.length;
    if (offset > this.#position || end <= this.#position) return;
    this.#hash.update(offset === this.#position ? chunk : chunk.subarray(this.#position - offset));
    this.#position = end;
  }

  digestHex(): string {
    return this.#hash.digest('hex');
  }
}
