/**
 * Digests whose copy assembled on this node failed its digest lately. Pieces
 * got past every per-piece check and were still wrong: the piece table was
 * poisoned (perhaps by a peer that also vouched for it by completing), or they
 * came from providers without a table. Until the memory fades the blob is
 * fetched from the origin alone, so a client's retry succeeds whatever the
 * swarm still believes.
 */
export class RecentMismatches {
  readonly #until = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 10 * 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  note(digest: string): void {
    const now = this.#now();
    for (const [known, until] of this.#until) if (until <= now) this.#until.delete(known);
    this.#until.delete(digest);
    // The oldest first: a Map iterates in insertion order.
    for (const oldest of this.#until.keys()) {
      if (this.#until.size < this.#maxEntries) break;
      this.#until.delete(oldest);
    }
    this.#until.set(digest, now + this.#ttlMs);
  }

  has(digest: string): boolean {
    const until = this.#until.get(digest);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#until.delete(digest);
    return false;
  }
}
