/**
 * Reusable buffers of one size for bulk piece transfers.
 *
 * A fresh 1 MiB buffer per chunk is memory outside the JavaScript heap that
 * V8 only gives back after a collection; at a link's rate V8 answers with a
 * full mark-compact of the whole heap every few dozen MB (measured: 40-60 per
 * GiB moved, more CPU than the encryption). Taking buffers from here and
 * giving them back once nothing refers to them any more keeps that memory in
 * a few long-lived buffers. A buffer not given back is simply collected.
 * Idle buffers are dropped after a quiet spell, so an idle peer does not hold
 * them.
 */
export class BufferPool {
  readonly size: number;
  readonly #maxIdle: number;
  readonly #idleMs: number;
  #idle: Buffer[] = [];
  #trimTimer: NodeJS.Timeout | undefined;

  constructor(size: number, options: { maxIdle: number; idleMs?: number }) {
    this.size = size;
    this.#maxIdle = options.maxIdle;
    this.#idleMs = options.idleMs ?? 10_000;
  }

  /** A buffer of `size` bytes with arbitrary contents. */
  take(): Buffer {
    return this.#idle.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Back into the pool: the caller and everything it handed the buffer to are done with it. */
  give(buffer: Buffer): void {
    if (buffer.length !== this.size || this.#idle.length >= this.#maxIdle || this.#idle.includes(buffer))
      return;
    this.#idle.push(buffer);
    clearTimeout(this.#trimTimer);
    this.#trimTimer = setTimeout(() => {
      this.#idle = [];
    }, this.#idleMs);
    this.#trimTimer.unref();
  }

  get idle(): number {
    return this.#idle.length;
  }
}
