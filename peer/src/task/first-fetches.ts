/** How long an in-order stream of the task waits for fetches ahead of it before it goes on anyway. */
const MAX_YIELD_MS = 2_000;

/**
 * Pieces of one task that a client wants ahead of the task's own order (a
 * `Range` of a blob still downloading): which are being fetched first, the
 * bytes of them already written (readable before their piece lands: they came
 * from the origin's own answer, the trust a landed origin piece has too), and
 * a gate where the task's in-order streams wait while such a fetch runs, so it
 * gets the origin's bandwidth instead of sharing it.
 */
export class FirstFetches {
  readonly #claimed = new Set<number>();
  /** Written byte intervals [start, end), sorted, disjoint. */
  #written: [number, number][] = [];
  #active = 0;
  #idle = Promise.withResolvers<void>();

  constructor() {
    this.#idle.resolve();
  }

  /** Marks the pieces as fetched first; returns those no other fetch claimed already. */
  claim(indices: readonly number[]): number[] {
    const fresh = indices.filter((index) => !this.#claimed.has(index));
    for (const index of fresh) this.#claimed.add(index);
    if (fresh.length > 0 && this.#active++ === 0) this.#idle = Promise.withResolvers<void>();
    return fresh;
  }

  /** Ends a claim made by `claim` (with what it returned). */
  release(indices: readonly number[]): void {
    if (indices.length === 0) return;
    for (const index of indices) this.#claimed.delete(index);
    if (--this.#active === 0) this.#idle.resolve();
  }

  get active(): boolean {
    return this.#active > 0;
  }

  /** Resolves once no fetch runs ahead, or after a bounded wait so the task never starves. */
  async yieldTo(maxWaitMs = MAX_YIELD_MS): Promise<void> {
    if (this.#active === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#idle.promise,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxWaitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Records bytes [offset, offset + length) as written by a fetch ahead. */
  noteWritten(offset: number, length: number): void {
    if (length <= 0) return;
    let start = offset;
    let end = offset + length;
    const kept: [number, number][] = [];
    for (const interval of this.#written) {
      if (interval[1] < start || interval[0] > end) kept.push(interval);
      else {
        start = Math.min(start, interval[0]);
        end = Math.max(end, interval[1]);
      }
    }
    kept.push([start, end]);
    kept.sort((a, b) => a[0] - b[0]);
    this.#written = kept;
  }

  /** End of the written bytes from `position` on (`position` itself when none are). */
  writtenEnd(position: number): number {
    for (const [start, end] of this.#written) {
      if (start <= position && position < end) return end;
    }
    return position;
  }

  /** Forgets written bytes (the task ended; its pieces speak for themselves now). */
  clear(): void {
    this.#written = [];
  }
}
