import type { Digest } from '../../packages/oci/src/index.ts';
import { Bitfield, type PieceLayout, pieceLayout } from '../../packages/protocol/src/index.ts';
import type { DownloadTarget } from '../../peer/src/download/ports.ts';

/**
 * A download task kept as a bitfield: the simulator moves no bytes, so pieces
 * "land" with the hash the flow carried, and the blob is complete (its digest
 * taken as matching) once every piece is present.
 */
export class SimTarget implements DownloadTarget {
  readonly digest: Digest;
  readonly abort = new AbortController();
  #state: DownloadTarget['state'] = 'preparing';
  #error: Error | undefined;
  #layout: PieceLayout | undefined;
  #present: Bitfield | undefined;
  readonly #finished = Promise.withResolvers<void>();
  readonly #onComplete: () => void;
  /** piece index -> who waits for it to land (a child's pending request at this node) */
  readonly #waiters = new Map<number, Set<() => void>>();

  constructor(digest: Digest, onComplete: () => void) {
    this.digest = digest;
    this.#onComplete = onComplete;
    this.#finished.promise.catch(() => {});
  }

  get state() {
    return this.#state;
  }
  get error() {
    return this.#error;
  }
  get layout() {
    return this.#layout;
  }
  get finished() {
    return this.#finished.promise;
  }
  presentBitfield(): Uint8Array<ArrayBuffer> {
    return this.#present?.bytes ?? new Uint8Array(0);
  }
  async resume(): Promise<boolean> {
    return false;
  }
  async create(size: number, pieceSize?: number): Promise<void> {
    if (this.#layout) throw new Error('task already has a layout');
    this.#layout = pieceLayout(size, pieceSize);
    this.#present = new Bitfield(this.#layout.count);
    this.#state = 'downloading';
  }
  has(index: number): boolean {
    return this.#present?.has(index) ?? false;
  }
  /**
   * Calls `wake` once piece `index` lands here, or the download ends without it; returns a cancel.
   * What the piece server does for a child's pending request.
   */
  onLanded(index: number, wake: () => void): () => void {
    const waiting = this.#waiters.get(index) ?? new Set<() => void>();
    this.#waiters.set(index, waiting);
    waiting.add(wake);
    return () => waiting.delete(wake);
  }
  async writeChunks(): Promise<void> {}
  async landPiece(index: number): Promise<void> {
    if (this.#state !== 'downloading' || !this.#present) return;
    this.#present.set(index);
    if (this.#present.complete) {
      this.#state = 'complete';
      this.#finished.resolve();
      this.#onComplete();
    }
    this.#wake(index);
  }
  async fail(error: Error): Promise<void> {
    if (this.#state === 'complete' || this.#state === 'failed') return;
    this.#state = 'failed';
    this.#error = error;
    this.abort.abort(error);
    this.#finished.reject(error);
    for (const index of [...this.#waiters.keys()]) this.#wake(index);
  }

  #wake(index: number): void {
    const waiting = this.#waiters.get(index);
    if (!waiting) return;
    this.#waiters.delete(index);
    for (const wake of waiting) wake();
  }
}
