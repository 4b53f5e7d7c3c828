import type { Digest } from '@shoal/oci';
import type { BlobRecord } from './blob-record.ts';

/**
 * The records of recently served blobs, kept parsed. A piece served to a peer and a Range served to
 * a client are checked against their blob's record; read from disk each time, a 20 GB blob's record
 * (10,000 piece hashes) costs milliseconds of JSON per request. The store that writes and removes
 * records keeps this in step (`set`, `delete`). Bounded by the piece hashes held, oldest use first out.
 */
export class RecordCache {
  readonly #maxPieceHashes: number;
  /** insertion order is use order: the first entry is the least recently used */
  readonly #entries = new Map<Digest, { record: Promise<BlobRecord | undefined>; weight: number }>();
  #weight = 0;

  constructor(options: { maxPieceHashes: number }) {
    this.#maxPieceHashes = options.maxPieceHashes;
  }

  /** The record, from here or from `load` (which a concurrent get shares); a missing record is not kept. */
  get(digest: Digest, load: () => Promise<BlobRecord | undefined>): Promise<BlobRecord | undefined> {
    const entry = this.#entries.get(digest);
    if (entry) {
      this.#entries.delete(digest);
      this.#entries.set(digest, entry);
      return entry.record;
    }
    const record = load();
    const loading = { record, weight: 0 };
    this.#entries.set(digest, loading);
    record.then(
      (loaded) => {
        // Replaced or dropped meanwhile: what it loaded is not this cache's any more.
        if (this.#entries.get(digest) !== loading) return;
        if (loaded) this.#weigh(loading, loaded);
        else this.#entries.delete(digest);
      },
      () => {
        if (this.#entries.get(digest) === loading) this.#entries.delete(digest);
      },
    );
    return record;
  }

  /** The record just written for `digest`. */
  set(digest: Digest, record: BlobRecord): void {
    this.delete(digest);
    const entry = { record: Promise.resolve(record), weight: 0 };
    this.#entries.set(digest, entry);
    this.#weigh(entry, record);
  }

  /** The record of `digest` is gone (or about to be). */
  delete(digest: Digest): void {
    const entry = this.#entries.get(digest);
    if (!entry) return;
    this.#weight -= entry.weight;
    this.#entries.delete(digest);
  }

  get size(): number {
    return this.#entries.size;
  }

  #weigh(entry: { weight: number }, record: BlobRecord): void {
    entry.weight = record.pieceHashes.length + 1;
    this.#weight += entry.weight;
    for (const [digest, oldest] of this.#entries) {
      if (this.#weight <= this.#maxPieceHashes || oldest === entry) break;
      this.delete(digest);
    }
  }
}
