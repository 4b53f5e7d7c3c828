import type { KadDHT } from '@libp2p/kad-dht';
import { blobCid } from '@shoal/p2p';
import type { Logger } from '@shoal/telemetry';

/**
 * Announces complete blobs as DHT provider records (the library re-provides
 * them periodically) and withdraws them on eviction. One announcement at a
 * time: they are background work and must not compete with transfers.
 */
export class ContentAnnouncer {
  readonly #dht: KadDHT;
  readonly #log: Logger;
  readonly #onLookup: (kind: 'provide' | 'withdraw', ok: boolean) => void;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(dht: KadDHT, logger: Logger, onLookup: (kind: 'provide' | 'withdraw', ok: boolean) => void) {
    this.#dht = dht;
    this.#log = logger;
    this.#onLookup = onLookup;
  }

  provide(digest: string): void {
    this.#enqueue('provide', digest, async (signal) => {
      for await (const _event of this.#dht.provide(blobCid(digest), { signal })) {
        // drain the query
      }
    });
  }

  withdraw(digest: string): void {
    this.#enqueue('withdraw', digest, (signal) => this.#dht.cancelReprovide(blobCid(digest), { signal }));
  }

  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
  }

  #enqueue(kind: 'provide' | 'withdraw', digest: string, work: (signal: AbortSignal) => Promise<void>): void {
    this.#queue = this.#queue.then(async () => {
      if (this.#stopped) return;
      try {
        await work(AbortSignal.any([this.#abort.signal, AbortSignal.timeout(30_000)]));
        this.#onLookup(kind, true);
      } catch (error) {
        this.#onLookup(kind, false);
        this.#log.debug({ digest, kind, err: (error as Error).message }, 'DHT announcement failed');
      }
    });
  }
}
