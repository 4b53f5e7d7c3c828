import { setTimeout as sleep } from 'node:timers/promises';
import type { KadDHT } from '@libp2p/kad-dht';
import { blobCid } from '@shoal/p2p';
import type { Logger } from '@shoal/telemetry';

const MAX_DEFER_MS = 60_000;
const BUSY_POLL_MS = 500;
/**
 * How long no download must have run before a deferred announcement goes out. A manifest is
 * announced the moment it is served, just before its client asks for the blobs: without a
 * settle time every node of a rollout would walk the DHT right as the rollout starts.
 */
const QUIET_MS = 2_000;

type Kind = 'provide' | 'withdraw';

/**
 * Announces complete blobs as DHT provider records (the library re-provides
 * them periodically) and withdraws them on eviction. One announcement at a
 * time: they are background work and must not compete with transfers. What
 * waits is one intent per digest, the latest: a busy node completes and
 * evicts blobs far faster than it may walk the DHT, and a queue of every
 * provide and withdraw would grow without end.
 */
export class ContentAnnouncer {
  readonly #dht: KadDHT;
  readonly #log: Logger;
  readonly #onLookup: (kind: 'provide' | 'withdraw', ok: boolean) => void;
  /** digest -> the latest intent not yet carried out, oldest first */
  readonly #pending = new Map<string, { kind: Kind; work: (signal: AbortSignal) => Promise<void> }>();
  #draining = false;
  #stopped = false;
  readonly #abort = new AbortController();

  readonly #busy: () => boolean;

  /**
   * `busy` says whether downloads are running: a provide walks the DHT (dials and
   * queries), so it waits until none has run for QUIET_MS, at most MAX_DEFER_MS. In a
   * rollout every peer starts and completes at once; their announcements must not
   * slow the transfers.
   */
  constructor(
    dht: KadDHT,
    logger: Logger,
    onLookup: (kind: 'provide' | 'withdraw', ok: boolean) => void,
    busy: () => boolean = () => false,
  ) {
    this.#dht = dht;
    this.#log = logger;
    this.#onLookup = onLookup;
    this.#busy = busy;
  }

  /**
   * Announces a digest. `urgent` (a download going on without a scheduler, whose
   * peers find each other through the DHT) skips the queue and the quiet wait.
   */
  provide(digest: string, options: { urgent?: boolean } = {}): void {
    const work = async (signal: AbortSignal) => {
      for await (const _event of this.#dht.provide(blobCid(digest), { signal })) {
        // drain the query
      }
    };
    if (options.urgent) void this.#run('provide', digest, work);
    else this.#enqueue('provide', digest, work);
  }

  withdraw(digest: string): void {
    this.#enqueue('withdraw', digest, (signal) => this.#dht.cancelReprovide(blobCid(digest), { signal }));
  }

  /** Announcements waiting (one per digest at most). */
  get queued(): number {
    return this.#pending.size;
  }

  stop(): void {
    this.#stopped = true;
    this.#pending.clear();
    this.#abort.abort();
  }

  /** Resolves once no download has run for QUIET_MS, or after MAX_DEFER_MS whatever happens. */
  async #quietMoment(): Promise<void> {
    const deadline = Date.now() + MAX_DEFER_MS;
    let quietSince = this.#busy() ? undefined : Date.now();
    while (Date.now() < deadline && !this.#abort.signal.aborted) {
      if (quietSince !== undefined && Date.now() - quietSince >= QUIET_MS) return;
      await sleep(BUSY_POLL_MS).catch(() => undefined);
      if (this.#busy()) quietSince = undefined;
      else quietSince ??= Date.now();
    }
  }

  #enqueue(kind: Kind, digest: string, work: (signal: AbortSignal) => Promise<void>): void {
    if (this.#stopped) return;
    // The latest intent replaces an earlier one and waits at the back.
    this.#pending.delete(digest);
    this.#pending.set(digest, { kind, work });
    if (!this.#draining) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let next = this.#oldest(); next && !this.#stopped; next = this.#oldest()) {
        const [digest, intent] = next;
        if (intent.kind === 'provide') {
          await this.#quietMoment();
          // Changed meanwhile (evicted, say): the newer intent is carried out in its turn.
          if (this.#pending.get(digest) !== intent) continue;
        }
        this.#pending.delete(digest);
        await this.#run(intent.kind, digest, intent.work);
      }
    } finally {
      this.#draining = false;
    }
  }

  #oldest() {
    return this.#pending.entries().next().value;
  }

  async #run(kind: Kind, digest: string, work: (signal: AbortSignal) => Promise<void>) {
    if (this.#stopped) return;
    try {
      await work(AbortSignal.any([this.#abort.signal, AbortSignal.timeout(30_000)]));
      this.#onLookup(kind, true);
    } catch (error) {
      this.#onLookup(kind, false);
      this.#log.debug({ digest, kind, err: (error as Error).message }, 'DHT announcement failed');
    }
  }
}
