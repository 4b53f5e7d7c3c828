/** A verified referrers answer, as it was served. */
export interface RememberedReferrers {
  bytes: Buffer;
  filtersApplied: string[];
  /** ms since epoch when upstream gave it */
  answeredAt: number;
}

export interface RecentReferrersOptions {
  /** How long an answer may be served while upstream is unreachable. */
  keepMs?: number;
  /** Bytes of answers kept at most; the least recently stored go first. */
  maxBytes?: number;
  now?: () => number;
}

/**
 * The last referrers answer per registry, repository, subject digest and filter, kept in memory for
 * a while: the answer served while upstream is unreachable. Bounded by age and total size.
 */
export class RecentReferrers {
  readonly #keepMs: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, RememberedReferrers>();
  #bytes = 0;

  constructor(options: RecentReferrersOptions = {}) {
    this.#keepMs = options.keepMs ?? 15 * 60_000;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
  }

  static key(registry: string, repository: string, digest: string, artifactType: string | undefined): string {
    return JSON.stringify([registry, repository, digest, artifactType ?? null]);
  }

  remember(key: string, answer: Omit<RememberedReferrers, 'answeredAt'>): void {
    this.#drop(key);
    if (answer.bytes.length > this.#maxBytes) return;
    this.#entries.set(key, { ...answer, answeredAt: this.#now() });
    this.#bytes += answer.bytes.length;
    for (const oldest of this.#entries.keys()) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest);
    }
  }

  /** The last answer, unless it is older than the keep time. */
  last(key: string): RememberedReferrers | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() - entry.answeredAt > this.#keepMs) {
      this.#drop(key);
      return undefined;
    }
    return entry;
  }

  get bytes(): number {
    return this.#bytes;
  }

  #drop(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes.length;
  }
}
