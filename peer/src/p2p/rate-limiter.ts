import { setTimeout as sleep } from 'node:timers/promises';
import { SerialQueue } from '../serial-queue.ts';

/**
 * Paces bytes to a rate (a node's --download-rate / --upload-rate). Callers
 * await take() before moving bytes; a burst of 100 ms worth smooths
 * scheduling noise without letting the rate be exceeded for long.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  readonly #turns = new SerialQueue();

  /** `bytesPerSecond` 0 means unlimited. */
  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
    this.#burst = Math.max(256 * 1024, bytesPerSecond / 10);
    this.#tokens = this.#burst;
    this.#last = performance.now();
  }

  get unlimited(): boolean {
    return this.#rate <= 0;
  }

  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.#rate <= 0) return Promise.resolve();
    return this.#turns.run(async () => {
      this.#refill();
      // Go into debt rather than split a write; the next caller waits it off.
      this.#tokens -= bytes;
      if (this.#tokens < 0) await sleep((-this.#tokens / this.#rate) * 1000, undefined, { signal });
    });
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
  }
}
