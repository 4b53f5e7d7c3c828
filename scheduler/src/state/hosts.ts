/** One connected peer daemon as the scheduler knows it. */
export interface Host {
  readonly id: string;
  addrs: string[];
  labels: Record<string, string>;
  uploadSlots: number;
  /** assignments in flight where this host is the parent */
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
      return existing;
    }
    const host: Host = { id, ...fields, activeUploads: 0, speed: 0, strikes: 0, connectedAt: now };
    this.#hosts.set(id, host);
    return host;
  }

  get(id: string): Host | undefined {
    return this.#hosts.get(id);
  }

  remove(id: string): void {
    this.#hosts.delete(id);
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
    host.speed = host.speed === 0 ? sample : host.speed * (1 - SPEED_SMOOTHING) + sample * SPEED_SMOOTHING;
  }
}
