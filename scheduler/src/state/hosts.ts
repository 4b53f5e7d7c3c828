/** One connected peer daemon as the scheduler knows it. */
export interface Host {
  readonly id: string;
  addrs: string[];
  labels: Record<string, string>;
  uploadSlots: number;
  /** assignments in flight where this host is the parent (kept by Flights) */
  activeUploads: number;
  /** EWMA of piece throughput when serving others, bytes/s; 0 = unmeasured */
  speed: number;
  /** pieces it served that failed verification */
  strikes: number;
  connectedAt: number;
}

/** Strikes after which a host is blocklisted cluster-wide. */
export const CLUSTER_STRIKE_LIMIT = 3;
const SPEED_SMOOTHING = 0.3;

export class HostRegistry {
  readonly #hosts = new Map<string, Host>();
  /** Hosts blocklisted cluster-wide, kept across reconnects. */
  readonly #blocked = new Set<string>();
  /** Hosts with an upload slot free, in the order they last got one (a decision searches them when few). */
  readonly #free = new Set<string>();
  /** Highest speed of any host; recomputed only when the host holding it slowed down or left. */
  #fastest = 0;
  #fastestStale = false;
  readonly #onFreeChange: ((id: string, free: boolean) => void) | undefined;

  /** `onFreeChange`: told whenever a host gets its first free upload slot or loses its last one. */
  constructor(onFreeChange?: (id: string, free: boolean) => void) {
    this.#onFreeChange = onFreeChange;
  }

  upsert(
    id: string,
    fields: { addrs: string[]; labels: Record<string, string>; uploadSlots: number },
    now: number,
  ): Host {
    const existing = this.#hosts.get(id);
    if (existing) {
      existing.addrs = fields.addrs;
      existing.labels = fields.labels;
      existing.uploadSlots = fields.uploadSlots;
      this.#syncFree(existing);
      return existing;
    }
    const host: Host = { id, ...fields, activeUploads: 0, speed: 0, strikes: 0, connectedAt: now };
    this.#hosts.set(id, host);
    this.#syncFree(host);
    return host;
  }

  /** An assignment in flight from this host as parent takes one of its upload slots (called by Flights). */
  takeSlot(id: string): void {
    const host = this.#hosts.get(id);
    if (!host) return;
    host.activeUploads++;
    this.#syncFree(host);
  }

  /**
   * The assignment ended (reported, failed, timed out, its downloader left): the slot is free again.
   * Returns whether one was given back (not for a host that left, whose record went with its slots).
   */
  releaseSlot(id: string): boolean {
    const host = this.#hosts.get(id);
    if (!host || host.activeUploads === 0) return false;
    host.activeUploads--;
    this.#syncFree(host);
    return true;
  }

  /** Connected hosts with an upload slot free (blocklisted ones included: eligibility is the caller's). */
  get freeHosts(): ReadonlySet<string> {
    return this.#free;
  }

  /** The best measured speed of any connected host, 0 when none is measured. */
  get fastestSpeed(): number {
    if (this.#fastestStale) {
      this.#fastest = 0;
      for (const host of this.#hosts.values()) this.#fastest = Math.max(this.#fastest, host.speed);
      this.#fastestStale = false;
    }
    return this.#fastest;
  }

  get blockedCount(): number {
    return this.#blocked.size;
  }

  #syncFree(host: Host): void {
    const free = host.activeUploads < host.uploadSlots;
    if (free === this.#free.has(host.id)) return;
    if (free) this.#free.add(host.id);
    else this.#free.delete(host.id);
    this.#onFreeChange?.(host.id, free);
  }

  get(id: string): Host | undefined {
    return this.#hosts.get(id);
  }

  remove(id: string): void {
    const host = this.#hosts.get(id);
    if (host && host.speed > 0 && host.speed >= this.#fastest) this.#fastestStale = true;
    this.#hosts.delete(id);
    this.#free.delete(id);
  }

  get size(): number {
    return this.#hosts.size;
  }

  values(): IterableIterator<Host> {
    return this.#hosts.values();
  }

  isBlocked(id: string): boolean {
    return this.#blocked.has(id);
  }

  /** Records a verification failure; returns true when the host just became blocklisted cluster-wide. */
  strike(id: string): boolean {
    const host = this.#hosts.get(id);
    if (!host) return false;
    host.strikes++;
    if (host.strikes >= CLUSTER_STRIKE_LIMIT && !this.#blocked.has(id)) {
      this.#blocked.add(id);
      return true;
    }
    return false;
  }

  recordSpeed(id: string, bytes: number, millis: number): void {
    const host = this.#hosts.get(id);
    if (!host || millis <= 0 || bytes <= 0) return;
    const sample = (bytes * 1000) / millis;
    const previous = host.speed;
    host.speed = previous === 0 ? sample : previous * (1 - SPEED_SMOOTHING) + sample * SPEED_SMOOTHING;
    if (host.speed >= this.#fastest) this.#fastest = host.speed;
    else if (previous >= this.#fastest) this.#fastestStale = true;
  }
}
