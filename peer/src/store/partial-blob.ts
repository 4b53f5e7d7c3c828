import { createHash } from 'node:crypto';
import { type FileHandle, open, readFile, rm } from 'node:fs/promises';
import type { Digest } from '@shoal/oci';
import { Bitfield, type PieceLayout, pieceLayout, pieceLength, pieceStart } from '@shoal/protocol';
import { SerialQueue } from '../serial-queue.ts';
import { writeFileAtomic } from './atomic-file.ts';
import type { StorePaths } from './paths.ts';

interface PartialMeta {
  digest: string;
  size: number;
  pieceSize: number;
  /** base64 of the bitfield bytes */
  present: string;
  /** sha256 hex of each present piece, by index */
  pieceHashes: Record<string, string>;
}

/** Hears of verified bytes from the start of a resumed partial, in order. */
export type VerifiedPrefixListener = (offset: number, bytes: Uint8Array) => void;

/** Largest piece whose bytes a resume keeps in memory to hand on (bigger ones are read again later). */
const MAX_KEPT_PIECE = 16 * 1024 * 1024;

/** How often the piece bitmap is persisted while pieces land; a crash loses at most this much progress. */
const META_PERSIST_INTERVAL_MS = 200;

/**
 * A blob being assembled: a sparse data file written piece by piece at offsets,
 * and a persisted bitmap of pieces present with their sha256. It never becomes
 * a complete blob by itself: the store commits it after the whole digest matched.
 */
/** Read access to a partial's file that stays valid until released. */
export interface PartialLease {
  readInto(buffer: Uint8Array, offset: number): Promise<void>;
  release(): void;
}

export class PartialBlob {
  readonly digest: Digest;
  readonly layout: PieceLayout;
  readonly present: Bitfield;
  readonly pieceHashes: Map<number, string>;
  readonly dataPath: string;
  readonly #metaPath: string;
  readonly #file: FileHandle;
  #persistTimer: NodeJS.Timeout | undefined;
  /** Bitmap writes, one at a time so an older bitmap never lands after a newer one. */
  readonly #persists = new SerialQueue();
  #closed = false;
  /** being committed: the bitmap is no longer written, the file still read */
  #sealed = false;
  /** leases still reading through the file after the partial may have closed */
  #readers = 0;
  #fileClosing: Promise<void> | undefined;

  private constructor(
    paths: StorePaths,
    digest: Digest,
    layout: PieceLayout,
    file: FileHandle,
    present: Bitfield,
    hashes: Map<number, string>,
  ) {
    this.digest = digest;
    this.layout = layout;
    this.present = present;
    this.pieceHashes = hashes;
    this.dataPath = paths.partialData(digest);
    this.#metaPath = paths.partialMeta(digest);
    this.#file = file;
  }

  static async create(
    paths: StorePaths,
    digest: Digest,
    size: number,
    pieceSize?: number,
  ): Promise<PartialBlob> {
    const layout = pieceLayout(size, pieceSize);
    const file = await open(paths.partialData(digest), 'w+');
    try {
      await file.truncate(size);
      const partial = new PartialBlob(paths, digest, layout, file, new Bitfield(layout.count), new Map());
      await partial.persistMeta();
      return partial;
    } catch (error) {
      // A full disk fails here: the descriptor is closed now, not when the GC finds it.
      await file.close().catch(() => {});
      await PartialBlob.remove(paths, digest).catch(() => {});
      throw error;
    }
  }

  /**
   * Reopens a partial left by an earlier run. Every piece the bitmap claims is
   * read back and re-hashed; pieces that do not match their recorded hash are
   * dropped. Returns undefined when there is no usable partial (it is removed).
   */
  static async resume(
    paths: StorePaths,
    digest: Digest,
    onVerifiedPrefix?: VerifiedPrefixListener,
  ): Promise<PartialBlob | undefined> {
    let meta: PartialMeta;
    try {
      meta = JSON.parse(await readFile(paths.partialMeta(digest), 'utf8')) as PartialMeta;
    } catch {
      await PartialBlob.remove(paths, digest);
      return undefined;
    }
    let file: FileHandle | undefined;
    try {
      if (meta.digest !== digest) throw new Error('meta of another digest');
      const layout = pieceLayout(meta.size, meta.pieceSize);
      const claimed = new Bitfield(layout.count, Buffer.from(meta.present, 'base64'));
      file = await open(paths.partialData(digest), 'r+');
      if ((await file.stat()).size !== layout.size) throw new Error('data file has the wrong size');
      const present = new Bitfield(layout.count);
      const hashes = new Map<number, string>();
      // The pieces from the start on, as long as none is missing, are handed on once verified: the
      // whole-blob hash takes them from this one read instead of reading them all again.
      let prefixEnd = onVerifiedPrefix ? 0 : -1;
      for (const index of claimed.present()) {
        const expected = meta.pieceHashes[String(index)];
        const keep = index === prefixEnd && pieceLength(layout, index) <= MAX_KEPT_PIECE;
        const read = expected
          ? await hashRange(file, pieceStart(layout, index), pieceLength(layout, index), keep)
          : undefined;
        if (read?.hex === expected) {
          present.set(index);
          hashes.set(index, expected!);
        }
        if (keep && read?.hex === expected) {
          let offset = pieceStart(layout, index);
          for (const chunk of read!.chunks) {
            onVerifiedPrefix!(offset, chunk);
            offset += chunk.length;
          }
          prefixEnd++;
        } else prefixEnd = -1;
      }
      const partial = new PartialBlob(paths, digest, layout, file, present, hashes);
      await partial.persistMeta();
      return partial;
    } catch {
      await file?.close();
      await PartialBlob.remove(paths, digest);
      return undefined;
    }
  }

  static async remove(paths: StorePaths, digest: Digest): Promise<void> {
    await rm(paths.partialData(digest), { force: true });
    await rm(paths.partialMeta(digest), { force: true });
  }

  /** Writes `chunks` back to back from `offset` with as few system calls as it takes (pwritev). */
  async writev(offset: number, chunks: readonly Uint8Array[]): Promise<void> {
    let pending = chunks.filter((chunk) => chunk.length > 0);
    let position = offset;
    while (pending.length > 0) {
      const { bytesWritten } = await this.#file.writev(pending as Uint8Array[], position);
      position += bytesWritten;
      let skip = bytesWritten;
      const rest: Uint8Array[] = [];
      for (const chunk of pending) {
        if (skip >= chunk.length) {
          skip -= chunk.length;
          continue;
        }
        rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
        skip = 0;
      }
      pending = rest;
    }
  }

  /** Fills `buffer` with the bytes from `offset` on. */
  async readInto(buffer: Uint8Array, offset: number): Promise<void> {
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await this.#file.read(buffer, filled, buffer.length - filled, offset + filled);
      if (bytesRead === 0) throw new Error(`short read in partial ${this.digest}`);
      filled += bytesRead;
    }
  }

  /**
   * Keeps the file open for a reader that may outlive the partial: a piece
   * being uploaded when the blob completes (the file is renamed into the store,
   * which an open descriptor survives) or is put away. Without it, every upload
   * still running at completion fails and its requester starts the piece again.
   * Undefined once the partial is closed.
   */
  lease(): PartialLease | undefined {
    if (this.#closed) return undefined;
    this.#readers++;
    let released = false;
    return {
      readInto: (buffer, offset) => this.readInto(buffer, offset),
      release: () => {
        if (released) return;
        released = true;
        this.#readers--;
        if (this.#closed && this.#readers === 0) void this.#closeFile().catch(() => {});
      },
    };
  }

  /** The descriptor goes once the partial is closed and no lease reads through it. */
  #closeFile(): Promise<void> {
    if (this.#readers > 0) return Promise.resolve();
    this.#fileClosing ??= this.#file.close();
    return this.#fileClosing;
  }

  /** Records a piece as present (its bytes are already written); the bitmap is persisted soon after. */
  markPiece(index: number, sha256Hex: string): void {
    this.present.set(index);
    this.pieceHashes.set(index, sha256Hex);
    this.#schedulePersist();
  }

  /** Forgets a piece (its bytes turned out wrong). */
  dropPiece(index: number): void {
    this.present.clear(index);
    this.pieceHashes.delete(index);
    this.#schedulePersist();
  }

  persistMeta(): Promise<void> {
    if (this.#persistTimer) clearTimeout(this.#persistTimer);
    this.#persistTimer = undefined;
    if (this.#sealed) return this.#persists.idle();
    const meta: PartialMeta = {
      digest: this.digest,
      size: this.layout.size,
      pieceSize: this.layout.pieceSize,
      present: Buffer.from(this.present.bytes).toString('base64'),
      pieceHashes: Object.fromEntries([...this.pieceHashes].map(([k, v]) => [String(k), v])),
    };
    return this.#persists.run(() => writeFileAtomic(this.#metaPath, JSON.stringify(meta)));
  }

  /** Flushes data and bitmap and closes the file; the partial stays on disk for a later resume. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.persistMeta().catch(() => {});
    await this.#closeFile();
  }

  /**
   * Stops writing the piece bitmap, for a partial being committed, while its
   * pieces can still be leased: until the store has the blob, this is where
   * a peer asking for a piece finds it.
   */
  async seal(): Promise<void> {
    this.#sealed = true;
    if (this.#persistTimer) clearTimeout(this.#persistTimer);
    this.#persistTimer = undefined;
    await this.#persists.idle();
  }

  /** Closes without persisting, for a partial committed or about to be discarded. */
  async release(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#persistTimer) clearTimeout(this.#persistTimer);
    await this.#persists.idle();
    await this.#closeFile();
  }

  #schedulePersist(): void {
    if (this.#persistTimer || this.#closed || this.#sealed) return;
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = undefined;
      this.persistMeta().catch(() => {});
    }, META_PERSIST_INTERVAL_MS);
    this.#persistTimer.unref();
  }
}

/**
 * sha256 of a range of the file, read in chunks of up to 1 MiB; with `keep`, the chunks too (each its
 * own buffer), for a caller that hands the bytes on once the hash matched.
 */
async function hashRange(
  file: FileHandle,
  start: number,
  length: number,
  keep = false,
): Promise<{ hex: string; chunks: Buffer[] }> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let chunk = Buffer.allocUnsafe(Math.min(length, 1024 * 1024) || 1);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(chunk, 0, Math.min(chunk.length, length - done), start + done);
    if (bytesRead === 0) break;
    hash.update(chunk.subarray(0, bytesRead));
    if (keep) {
      chunks.push(chunk.subarray(0, bytesRead));
      chunk = Buffer.allocUnsafe(chunk.length);
    }
    done += bytesRead;
  }
  return { hex: hash.digest('hex'), chunks };
}
