/** The origin as a source of a flow. */
export const ORIGIN = '';

/** What moved during the window: bytes per peer each way and per (source, receiver) pair. */
export interface TrafficWindow {
  /** seconds the bytes below were counted over */
  readonly seconds: number;
  readonly uploaded: ReadonlyMap<string, number>;
  readonly downloaded: ReadonlyMap<string, number>;
  /** source (ORIGIN or a parent) -> receiver -> bytes */
  readonly flows: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** What a peer has served since it connected. */
export interface ServedTotals {
  pieces: number;
  bytes: number;
}

interface Counts {
  uploaded: Map<string, number>;
  downloaded: Map<string, number>;
  flows: Map<string, Map<string, number>>;
}

interface Bucket extends Counts {
  /** the bucket's number (time / bucketMs); -1 when empty */
  epoch: number;
}

export interface SwarmTrafficOptions {
  now: () => number;
  /** length of one bucket */
  bucketMs?: number;
  /** buckets before the current one that a rate is averaged over */
  windowBuckets?: number;
}

/**
 * Bytes moved between peers, as the scheduler hears of them in piece reports,
 * over a sliding window of time buckets. Recording a piece is O(1); running
 * sums over the window are kept as buckets are filled and retired (a retired
 * bucket is subtracted: the cost of what it recorded, once), so reading the
 * window costs nothing but a look at the ring. Memory follows the traffic of
 * the window, not the history.
 */
export class SwarmTraffic {
  readonly #now: () => number;
  readonly #bucketMs: number;
  readonly #windowBuckets: number;
  readonly #ring: Bucket[];
  /** sums over the buckets of the ring still in the window */
  readonly #sums: Counts = emptyCounts();
  readonly #served = new Map<string, ServedTotals>();

  constructor(options: SwarmTrafficOptions) {
    this.#now = options.now;
    this.#bucketMs = options.bucketMs ?? 1000;
    this.#windowBuckets = options.windowBuckets ?? 5;
    this.#ring = Array.from({ length: this.#windowBuckets + 1 }, () => ({ epoch: -1, ...emptyCounts() }));
  }

  /** `bytes` of one piece went from `source` (a parent, or ORIGIN) to `receiver`. */
  piece(source: string, receiver: string, bytes: number): void {
    if (bytes <= 0) return;
    const bucket = this.#current();
    for (const counts of [bucket, this.#sums]) {
      add(counts.downloaded, receiver, bytes);
      let row = counts.flows.get(source);
      if (!row) {
        row = new Map();
        counts.flows.set(source, row);
      }
      add(row, receiver, bytes);
      if (source !== ORIGIN) add(counts.uploaded, source, bytes);
    }
    if (source === ORIGIN) return;
    const served = this.#served.get(source);
    if (served) {
      served.pieces++;
      served.bytes += bytes;
    } else this.#served.set(source, { pieces: 1, bytes });
  }

  served(id: string): ServedTotals | undefined {
    return this.#served.get(id);
  }

  /** The peer left: its totals go (its bytes still in the window age out with their bucket). */
  forget(id: string): void {
    this.#served.delete(id);
  }

  /**
   * What moved in the window: the current bucket and the `windowBuckets` before it. The
   * maps are the live sums: read them before recording more.
   */
  window(): TrafficWindow {
    const now = this.#now();
    const epoch = Math.floor(now / this.#bucketMs);
    for (const bucket of this.#ring)
      if (bucket.epoch >= 0 && bucket.epoch < epoch - this.#windowBuckets) this.#retire(bucket);
    const seconds = (this.#windowBuckets * this.#bucketMs + (now - epoch * this.#bucketMs)) / 1000;
    return { seconds, ...this.#sums };
  }

  #current(): Bucket {
    const epoch = Math.floor(this.#now() / this.#bucketMs);
    const bucket = this.#ring[epoch % this.#ring.length]!;
    if (bucket.epoch !== epoch) {
      this.#retire(bucket);
      bucket.epoch = epoch;
    }
    return bucket;
  }

  /** Takes a bucket's counts out of the sums and empties it. */
  #retire(bucket: Bucket): void {
    const sums = this.#sums;
    for (const [id, bytes] of bucket.uploaded) subtract(sums.uploaded, id, bytes);
    for (const [id, bytes] of bucket.downloaded) subtract(sums.downloaded, id, bytes);
    for (const [source, row] of bucket.flows) {
      const sum = sums.flows.get(source);
      if (!sum) continue;
      for (const [receiver, bytes] of row) subtract(sum, receiver, bytes);
      if (sum.size === 0) sums.flows.delete(source);
    }
    bucket.uploaded.clear();
    bucket.downloaded.clear();
    bucket.flows.clear();
    bucket.epoch = -1;
  }
}

function emptyCounts(): Counts {
  return { uploaded: new Map(), downloaded: new Map(), flows: new Map() };
}

function add(map: Map<string, number>, key: string, bytes: number): void {
  map.set(key, (map.get(key) ?? 0) + bytes);
}

/** Byte counts are whole numbers: a sum back at zero is exactly zero, and goes. */
function subtract(map: Map<string, number>, key: string, bytes: number): void {
  const left = (map.get(key) ?? 0) - bytes;
  if (left > 0) map.set(key, left);
  else map.delete(key);
}
