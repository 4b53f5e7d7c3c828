import { setTimeout as sleep } from 'node:timers/promises';
import type { KadDHT } from '@libp2p/kad-dht';
import { blobCid } from '@shoal/p2p';
import type { Logger } from '@shoal/telemetry';
import { SerialQueue } from '../serial-queue.ts';

const MAX_DEFER_MS = 60_000;
const BUSY_POLL_MS = 500;
/**
 * How long no download must have run before a deferred announcement goes out. A manifest is
 * announced the moment it is served, just before its client asks for the blobs: without a
 * settle time every node of a rollout would walk the DHT right as the rollout starts.
 */
const QUIET_MS = 2_000;

/**
 * Announces complete blobs as DHT provider records (the library re-provides
 * them periodically) and withdraws them on eviction. One announcement at a
 * time: they are background work and must not compete with transfers.
 */
export class ContentAnnouncer {
  readonly #dht: KadDHT;
  readonly #log: Logger;
  readonly #onLookup: (kind: 'provide' | 'withdraw', ok: boolean) => void;
  readonly #queue = new SerialQueue();
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

  stop(): void {
    this.#stopped = true;
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

  #enqueue(kind: 'provide' | 'withdraw', digest: string, work: (signal: AbortSignal) => Promise<void>): void {
    void this.#queue.run(async () => {
      if (kind === 'provide') await this.#quietMoment();
      await this.#run(kind, digest, work);
    });
  }

  async #run(kind: 'provide' | 'withdraw', digest: string, work: (signal: AbortSignal) => Promise<void>) {
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
