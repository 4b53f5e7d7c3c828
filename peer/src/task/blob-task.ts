import { type FileHandle, open } from 'node:fs/promises';
import type { Digest } from '@shoal/oci';
import { type PieceLayout, pieceAt, pieceLength, pieceStart } from '@shoal/protocol';
import { SerialQueue } from '../serial-queue.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { PartialBlob } from '../store/partial-blob.ts';
import { ContiguousHasher } from './contiguous-hasher.ts';
import { DigestMismatchError, TaskAbortedError, UntrustedPiecesError } from './errors.ts';
import { FirstFetches } from './first-fetches.ts';
import { FROM_DISK, SourceTally } from './source-tally.ts';

export type TaskState = 'preparing' | 'downloading' | 'complete' | 'failed';

/** Reads a byte range of a task into the caller's buffers; see BlobTask.reader. */
export interface TaskReader {
  /** Resolves once bytes at the reader's position can be read (or the end is reached); throws the task's error. */
  ready(): Promise<void>;
  fill(into: Buffer): Promise<number>;
  close(): Promise<void>;
}

/** Largest single read a client stream takes from disk. */
const READ_CHUNK = 1024 * 1024;

/**
 * One download of one blob on this node, shared by every client that wants it.
 * It owns the partial file, the piece bitmap and the whole-blob hash; sources
 * (origin now, peers later) hand it verified pieces, clients read from it as
 * pieces land. The last piece only becomes readable once the whole digest
 * matched, so a client can never receive a complete body of wrong bytes.
 */
export class BlobTask {
  readonly digest: Digest;
  readonly #store: BlobStore;
  readonly abort = new AbortController();
  /** The bytes landed so far, by where they came from. */
  readonly sources = new SourceTally();
  /** Pieces fetched ahead of the task's order for a client's Range. */
  readonly firstFetches = new FirstFetches();
  #partial: PartialBlob | undefined;
  #state: TaskState = 'preparing';
  #error: Error | undefined;
  #hasher = new ContiguousHasher();
  /** Scratch buffer of the catch-up reads on this thread; one catch-up runs at a time. */
  #catchUpBuffer: Buffer | undefined;
  readonly #catchingUp = new SerialQueue();
  /**
   * Resume and create, one at a time: a source falling back while another
   * still sets the partial up must not read (and, finding it unfinished,
   * remove) the files being created.
   */
  readonly #setup = new SerialQueue();
  #completing = false;
  /** The failed task's partial being discarded or suspended. */
  #putAway: Promise<void> = Promise.resolve();
  #changed = Promise.withResolvers<void>();
  /** open client readers -> the byte each reads next */
  readonly #readers = new Map<object, number>();
  readonly #layoutKnown = Promise.withResolvers<PieceLayout>();
  readonly #finished = Promise.withResolvers<void>();

  constructor(digest: Digest, store: BlobStore) {
    this.digest = digest;
    this.#store = store;
    // Nobody may be awaiting these when the task fails early; avoid unhandled rejections.
    this.#layoutKnown.promise.catch(() => {});
    this.#finished.promise.catch(() => {});
  }

  get state(): TaskState {
    return this.#state;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  get layout(): PieceLayout | undefined {
    return this.#partial?.layout;
  }

  /** Resolves with the layout once the blob's size is known; rejects if the task fails first. */
  get sized(): Promise<PieceLayout> {
    return this.#layoutKnown.promise;
  }

  /** Resolves when the blob is verified and stored; rejects with the task's error. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  get partial(): PartialBlob | undefined {
    return this.#partial;
  }

  /**
   * Resolves true once piece `index` is present here (or the whole blob is), false when the download
   * ends without it or `signal` aborts first: what a child's request for a pending piece waits on.
   */
  async whenPresent(index: number, signal: AbortSignal): Promise<boolean> {
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    for (;;) {
      if (this.#state === 'complete' || this.#partial?.present.has(index)) return true;
      if (this.#state === 'failed' || signal.aborted) return false;
      await Promise.race([this.#changed.promise, aborted]);
    }
  }

  /** The pieces present, as a bitfield (empty before the layout is known). */
  presentBitfield(): Uint8Array<ArrayBuffer> {
    return this.#partial?.present.bytes ?? new Uint8Array(0);
  }

  /**
   * Picks up a partial from an earlier run, if any. Returns whether the task
   * has a partial now: one set up before (or while this waited) counts, and
   * is never read from disk a second time.
   */
  resume(): Promise<boolean> {
    return this.#setup.run(async () => {
      if (this.#partial) return true;
      // The check of its pieces feeds the whole-blob hash too (the verified prefix is read once); into a
      // hash of its own, taken only with the partial: one found unusable half way leaves nothing fed.
      const hasher = new ContiguousHasher();
      const partial = await this.#store.resumePartial(this.digest, (offset, bytes) =>
        hasher.feed(offset, bytes),
      );
      if (partial) {
        this.#hasher = hasher;
        this.#attach(partial);
        for (const index of partial.present.present())
          this.sources.add(FROM_DISK, pieceLength(partial.layout, index));
      }
      return partial !== undefined;
    });
  }

  /**
   * Starts a fresh partial once the size is known. A partial another source set up meanwhile with the
   * same size is kept; one of another size is an error.
   */
  create(size: number, pieceSize?: number): Promise<void> {
    return this.#setup.run(async () => {
      if (this.#partial) {
        if (this.#partial.layout.size === size) return;
        throw new Error(`task already has a partial of ${this.#partial.layout.size} bytes, not ${size}`);
      }
      this.#attach(await this.#store.createPartial(this.digest, size, pieceSize));
    });
  }

  has(index: number): boolean {
    return this.#partial?.present.has(index) ?? false;
  }

  /** Bytes from the start that the whole-blob hash has taken. */
  get hashedBytes(): number {
    return this.#hasher.position;
  }

  /** Writes chunks that follow each other from `offset` in one gathered write, then feeds the hash. */
  async writeChunks(offset: number, chunks: readonly Uint8Array[]): Promise<void> {
    const partial = this.#requirePartial();
    await partial.writev(offset, chunks);
    let position = offset;
    for (const chunk of chunks) {
      this.feedHash(position, chunk);
      position += chunk.length;
    }
  }

  /** Bytes a fetch ahead wrote before their piece landed: readers may take them now (see FirstFetches). */
  noteWrittenAhead(offset: number, length: number): void {
    this.firstFetches.noteWritten(offset, length);
    this.#notify();
  }

  /** Feeds bytes of a piece already present (seen again in an in-order stream) to the whole-blob hash. */
  feedHash(offset: number, chunk: Uint8Array): void {
    this.#hasher.feed(offset, chunk);
  }

  /**
   * Marks a piece whose bytes are written and verified, from `source` (FROM_ORIGIN or the
   * peer's id); completes the task when it was the last.
   */
  async landPiece(index: number, sha256Hex: string, source: string): Promise<void> {
    const partial = this.#requirePartial();
    if (!partial.present.has(index)) this.sources.add(source, pieceLength(partial.layout, index));
    partial.markPiece(index, sha256Hex);
    this.#notify();
    if (partial.present.complete && !this.#completing) {
      // Concurrent sources can land the last pieces together: only one verifies and commits.
      this.#completing = true;
      await this.#complete();
      return;
    }
    // The whole-blob hash catches up over what landed out of order in the background: a source does
    // not wait for that re-read (after a resume, the whole verified prefix) before its next piece.
    // A read error here comes back when the last piece completes the blob.
    this.catchUpHash().catch(() => {});
  }

  /** Fails the task: readers stop with `error`; wrong or untrusted pieces are discarded, anything else kept for resume. */
  async fail(error: Error): Promise<void> {
    if (this.#state === 'complete') return;
    // A second caller returns once the first has put the partial away: a next attempt must not find it half gone.
    if (this.#state === 'failed') return this.#putAway;
    this.#state = 'failed';
    this.#error = error;
    this.firstFetches.clear();
    this.abort.abort(error);
    this.#layoutKnown.reject(error);
    this.#finished.reject(error);
    this.#notify();
    const partial = this.#partial;
    if (!partial) return;
    // A partial without a single piece is not worth resuming, and a later attempt must learn the
    // blob's size (or that it is gone) from its source again, not from the leftover.
    this.#putAway =
      error instanceof DigestMismatchError ||
      error instanceof UntrustedPiecesError ||
      partial.present.count === 0
        ? this.#store.discardPartial(partial)
        : this.#store.suspendPartial(partial);
    await this.#putAway;
  }

  /**
   * The first piece an open client reader has yet to read (the lowest, with several), undefined
   * when no client reads: the download asks for the pieces from there first.
   */
  readingFrom(): number | undefined {
    const layout = this.layout;
    if (!layout || this.#readers.size === 0) return undefined;
    let least = Number.POSITIVE_INFINITY;
    for (const position of this.#readers.values()) least = Math.min(least, position);
    return least < layout.size ? pieceAt(layout, least) : undefined;
  }

  /** Whether clients may read this piece: present, and for the last piece also verified as a whole. */
  readable(index: number): boolean {
    const partial = this.#partial;
    if (!partial) return false;
    if (this.#state === 'complete') return true;
    return index < partial.layout.count - 1 && partial.present.has(index);
  }

  /**
   * Streams bytes [start, end) to a client as they become readable. Throws the
   * task's error if it fails first, so the caller can cut the response off.
   */
  async *read(start: number, end: number): AsyncGenerator<Buffer> {
    const reader = this.reader(start, end);
    try {
      for (let position = start; position < end; ) {
        const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - position));
        const filled = await reader.fill(buffer);
        position += filled;
        yield filled === buffer.length ? buffer : buffer.subarray(0, filled);
      }
    } finally {
      await reader.close();
    }
  }

  /**
   * Bytes [start, end) for a client, read into the caller's buffers as they
   * become readable: `fill` waits for the next readable piece and resolves
   * with the bytes it put in `into` (0 once `end` is reached). It throws the
   * task's error if the task fails first, so the caller can cut the response
   * off. `close` releases the file.
   */
  reader(start: number, end: number): TaskReader {
    let file: FileHandle | undefined;
    let position = start;
    const handle = {};
    if (start < end) this.#readers.set(handle, start);
    return {
      ready: async () => {
        if (position >= end) return;
        const layout = await this.sized;
        const index = pieceAt(layout, position);
        while (!this.readable(index) && this.#writtenAheadEnd(layout, position) <= position) {
          if (this.#state === 'failed') throw this.#error!;
          await this.#changed.promise;
        }
      },
      fill: async (into: Buffer): Promise<number> => {
        if (position >= end || into.length === 0) return 0;
        const layout = await this.sized;
        // Opened before waiting for pieces: a verified blob is committed and may be evicted at once
        // (one larger than the cache is); this descriptor still reads it.
        file ??= await this.#openData();
        const index = pieceAt(layout, position);
        const want = Math.min(end, position + into.length);
        let readableEnd: number;
        for (;;) {
          if (this.readable(index)) {
            // Only as far ahead as this buffer reaches: no rescan of the whole bitmap on every fill.
            readableEnd = Math.min(want, pieceStart(layout, index) + pieceLength(layout, index));
            for (let next = index + 1; readableEnd < want && this.readable(next); next++) {
              readableEnd = Math.min(want, pieceStart(layout, next) + pieceLength(layout, next));
            }
            break;
          }
          if (this.#state === 'failed') throw this.#error!;
          readableEnd = Math.min(want, this.#writtenAheadEnd(layout, position));
          if (readableEnd > position) break;
          await this.#changed.promise;
        }
        const { bytesRead } = await file.read(into, 0, readableEnd - position, position);
        if (bytesRead === 0) throw new TaskAbortedError(`unexpected end of data for ${this.digest}`);
        // Re-check after the read: the task may have been found wrong meanwhile.
        if (this.#state === 'failed') throw this.#error!;
        position += bytesRead;
        if (position < end) this.#readers.set(handle, position);
        else this.#readers.delete(handle);
        return bytesRead;
      },
      close: async () => {
        this.#readers.delete(handle);
        await file?.close();
        file = undefined;
      },
    };
  }

  /**
   * End of bytes from `position` a fetch ahead wrote, short of the last piece (readable only once
   * the whole digest matched) and only while the task downloads.
   */
  #writtenAheadEnd(layout: PieceLayout, position: number): number {
    if (this.#state !== 'downloading') return position;
    return Math.min(this.firstFetches.writtenEnd(position), pieceStart(layout, layout.count - 1));
  }

  async #complete(): Promise<void> {
    const partial = this.#requirePartial();
    // Another landing may still be feeding the hash from disk: finish it here before the digest.
    await this.catchUpHash();
    const actual = this.#hasher.digestHex();
    if (`sha256:${actual}` !== this.digest) {
      await this.fail(new DigestMismatchError(this.digest, actual));
      return;
    }
    await this.#store.commit(partial, this.#hasher.checkBlocks());
    this.#state = 'complete';
    this.firstFetches.clear();
    this.#finished.resolve();
    this.#notify();
  }

  /**
   * Advances the whole-blob hash over present pieces it has not seen, reading
   * them back from disk (pieces that landed out of order, or a resumed
   * partial). Concurrent landings queue up: one catch-up reads at a time.
   */
  catchUpHash(): Promise<void> {
    return this.#catchingUp.run(() => this.#catchUp());
  }

  async #catchUp(): Promise<void> {
    const partial = this.#requirePartial();
    const { layout } = partial;
    while (this.#hasher.position < layout.size) {
      const position = this.#hasher.position;
      const index = pieceAt(layout, position);
      if (!partial.present.has(index)) return;
      const pieceEnd = pieceStart(layout, index) + pieceLength(layout, index);
      this.#catchUpBuffer ??= Buffer.allocUnsafe(READ_CHUNK);
      for (let offset = position; offset < pieceEnd; offset += READ_CHUNK) {
        const bytes = this.#catchUpBuffer.subarray(0, Math.min(READ_CHUNK, pieceEnd - offset));
        await partial.readInto(bytes, offset);
        // Hashed before the next read reuses the buffer.
        this.#hasher.feed(offset, bytes);
      }
    }
  }

  async #openData(): Promise<FileHandle> {
    // The partial is renamed into place on completion; an open descriptor survives that.
    const partial = this.#requirePartial();
    try {
      return await open(partial.dataPath, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return await open(this.#store.paths.blob(this.digest), 'r');
    }
  }

  #attach(partial: PartialBlob): void {
    this.#partial = partial;
    this.#state = 'downloading';
    this.#layoutKnown.resolve(partial.layout);
    this.#notify();
  }

  #requirePartial(): PartialBlob {
    if (!this.#partial) throw new Error(`task ${this.digest} has no partial yet`);
    return this.#partial;
  }

  #notify(): void {
    const previous = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    previous.resolve();
  }
}
