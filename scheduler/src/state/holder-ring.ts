/**
 * The hosts holding one piece, searched round-robin. A parent search looks at
 * a bounded number of holders; starting each search where the leading busy
 * holders end keeps it from meeting the same busy ones first every time, and
 * moves nothing (moving a passed-over holder to the back of a Set, as this used
 * to, made V8 rehash big sets over and over).
 *
 * Adding is O(1): the caller adds a host when it starts holding the piece (the
 * task's bitfields say who holds what) and removes only holders. Removing is
 * O(1) too: a departed holder is skipped until departures are a good share of
 * the ring, then all are dropped in one pass. Searching for the one id in the
 * array made a thousand peers leaving at once a multi-second stall.
 */
export class HolderRing implements Iterable<string> {
  #ids: string[] = [];
  /** Holders removed but still in #ids: skipped, and dropped at the next compaction. */
  readonly #gone = new Set<string>();
  #start = 0;

  get size(): number {
    return this.#ids.length - this.#gone.size;
  }

  /** `id` must not hold the piece already. */
  add(id: string): void {
    // Removed and back before the compaction: it is still in the array.
    if (this.#gone.delete(id)) return;
    this.#ids.push(id);
  }

  /** `id` must hold the piece (have been added); returns false if it was removed already. */
  delete(id: string): boolean {
    if (this.#gone.has(id)) return false;
    this.#gone.add(id);
    if (this.#gone.size >= COMPACT_MIN && this.#gone.size * COMPACT_SHARE >= this.#ids.length)
      this.#compact();
    return true;
  }

  has(id: string): boolean {
    return !this.#gone.has(id) && this.#ids.includes(id);
  }

  clear(): void {
    this.#ids = [];
    this.#gone.clear();
    this.#start = 0;
  }

  /** A search found this holder busy: if the ring starts with it, the next search starts after it. */
  passOver(id: string): void {
    const ids = this.#ids;
    const next = (i: number) => (i + 1 < ids.length ? i + 1 : 0);
    let at = this.#start;
    // Removed holders at the start were not met by the search: step over them.
    for (let n = 0; n < this.#gone.size && this.#gone.has(ids[at]!); n++) at = next(at);
    if (ids[at] !== id) return;
    this.#start = next(at);
  }

  /** Every holder once, from the current start. */
  *[Symbol.iterator](): Iterator<string> {
    const ids = this.#ids;
    const start = this.#start;
    const gone = this.#gone;
    if (gone.size === 0) {
      for (let i = start; i < ids.length; i++) yield ids[i]!;
      for (let i = 0; i < start && i < ids.length; i++) yield ids[i]!;
      return;
    }
    for (let i = start; i < ids.length; i++) if (!gone.has(ids[i]!)) yield ids[i]!;
    for (let i = 0; i < start && i < ids.length; i++) if (!gone.has(ids[i]!)) yield ids[i]!;
  }

  /** Drops the removed holders; the start stays on the same holder (or the next one kept). */
  #compact(): void {
    const kept: string[] = [];
    let start = 0;
    for (let i = 0; i < this.#ids.length; i++) {
      if (i === this.#start) start = kept.length;
      const id = this.#ids[i]!;
      if (!this.#gone.has(id)) kept.push(id);
    }
    this.#ids = kept;
    this.#start = start < kept.length ? start : 0;
    this.#gone.clear();
  }
}

/** Removed holders are dropped once there are at least this many... */
const COMPACT_MIN = 8;
/** ...and they are at least 1 / COMPACT_SHARE of the array: each pass is paid for by that many removals. */
const COMPACT_SHARE = 4;
