import type { BlobTask } from './blob-task.ts';

/** Bytes gathered before a write is issued. */
const BATCH_BYTES = 1024 * 1024;
/** ... when a client waits for them. */
const WAITED_BATCH_BYTES = 128 * 1024;

/**
 * Gathers the small chunks of a network body (tens of KiB each) into one
 * positional gathered write per ~1 MiB, and keeps one write in flight while
 * the next batch fills, so receiving does not stop for every write. Memory is
 * bounded by two batches. Writes are issued and completed in order, so the
 * task's whole-blob hash is fed in order. The caller must `flush` before it
 * lands a piece, and before it gives up on a body, so that every byte it has
 * handed over is on disk. A write error is final: every later call throws it
 * (the bytes after it were handed over already, so the download cannot just
 * go on).
 */
export class BatchedWriter {
  readonly #task: BlobTask;
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #bytes = 0;
  #inFlight: Promise<void> | undefined;
  #error: Error | undefined;
  readonly #onWritten: ((offset: number, length: number) => void) | undefined;
  readonly #batchBytes: number;

  /**
   * `onWritten` hears of every write done, with its offset and length. A client waiting for the
   * bytes (`onWritten` given) gets them in smaller batches, sooner.
   */
  constructor(task: BlobTask, onWritten?: (offset: number, length: number) => void) {
    this.#task = task;
    this.#onWritten = onWritten;
    this.#batchBytes = onWritten ? WAITED_BATCH_BYTES : BATCH_BYTES;
  }

  /** Adds bytes at `offset`; waits only when a full batch is ready and the previous write is not done. */
  async add(offset: number, chunk: Uint8Array): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#bytes > 0 && offset !== this.#offset + this.#bytes) await this.#issue();
    if (this.#bytes === 0) this.#offset = offset;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= this.#batchBytes) await this.#issue();
  }

  /** Writes what is gathered and waits for every write; throws the first write error. */
  async flush(): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#bytes > 0) await this.#issue();
    const last = this.#inFlight;
    this.#inFlight = undefined;
    await last;
  }

  async #issue(): Promise<void> {
    const chunks = this.#chunks;
    const offset = this.#offset;
    const length = this.#bytes;
    this.#chunks = [];
    this.#bytes = 0;
    const previous = this.#inFlight;
    this.#inFlight = undefined;
    await previous;
    const write = this.#task.writeChunks(offset, chunks).then(
      () => this.#onWritten?.(offset, length),
      (error: Error) => {
        this.#error ??= error;
        throw error;
      },
    );
    // Observed by the next issue or flush; until then a failure must not count as unhandled.
    write.catch(() => {});
    this.#inFlight = write;
  }
}
