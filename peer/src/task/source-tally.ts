/** Where a blob's bytes came from: the origin... */
export const FROM_ORIGIN = 'origin';
/** ...this node's own disk (a partial download picked up again)... */
export const FROM_DISK = 'local';
/** ...or peers beyond the ones counted one by one. */
export const FROM_OTHER_PEERS = 'other-peers';

/** Peers counted one by one for one blob; a blob fetched from more lumps the rest together. */
const MAX_SOURCES = 64;

/**
 * Bytes of one blob by where they came from, counted as its pieces land
 * (verified), so it answers "where did this blob come from" with what the
 * blob is made of, not with what was fetched and thrown away.
 */
export class SourceTally {
  readonly #bytes = new Map<string, number>();

  /** `source`: FROM_ORIGIN, FROM_DISK or a peer id. */
  add(source: string, bytes: number): void {
    if (bytes <= 0) return;
    const key = this.#bytes.has(source) || this.#bytes.size < MAX_SOURCES ? source : FROM_OTHER_PEERS;
    this.#bytes.set(key, (this.#bytes.get(key) ?? 0) + bytes);
  }

  get total(): number {
    let total = 0;
    for (const bytes of this.#bytes.values()) total += bytes;
    return total;
  }

  entries(): IterableIterator<[string, number]> {
    return this.#bytes.entries();
  }
}
