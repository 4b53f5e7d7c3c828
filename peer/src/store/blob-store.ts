import { mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, digestFromHex, isDigest } from '@shoal/oci';
import type { Logger } from '@shoal/telemetry';
import { SerialQueue } from '../serial-queue.ts';
import { type BlobRecord, readBlobRecord, removeBlobRecord, writeBlobRecord } from './blob-record.ts';
import { CannotCacheError, WritesRefusedError } from './errors.ts';
import { type CacheEntry, chooseEvictions, type Watermarks } from './eviction-policy.ts';
import { PartialBlob, type VerifiedPrefixListener } from './partial-blob.ts';
import type { StorePaths } from './paths.ts';
import { RecordCache } from './record-cache.ts';

/** While the disk stays full, the cache gives back room at most this often. */
const GIVE_BACK_INTERVAL_MS = 60_000;
/** Room beyond a blob's size that a disk that was full must have again before the blob is cached. */
const DISK_FULL_SLACK = 1024 * 1024;
/** Errors of a data directory that refuses writes (read-only, full, over quota, denied, failing). */
const REFUSED_WRITE_CODES = new Set(['EROFS', 'ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EIO']);

/** The code of an error the data directory answered a write with, or undefined for any other error. */
export function refusedWriteCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && REFUSED_WRITE_CODES.has(code) ? code : undefined;
}
/** After a blob could not be removed, how long until eviction tries it again. */
const EVICTION_RETRY_MS = 30_000;

interface BlobEntry {
  size: number;
  lastAccess: number;
  pins: number;
  /** When its bytes were last hashed and matched (-Infinity: not since this process started). */
  verifiedAt: number;
}

/** Where a corrupt cached blob was found. */
export type CorruptionCheck = 'index' | 'open' | 'serve' | 'piece' | 'scrub';

export interface BlobStoreOptions {
  paths: StorePaths;
  /** Bytes of blobs to keep; partials in progress count too. */
  capacity: number;
  highWatermark?: number;
  lowWatermark?: number;
  logger: Logger;
  /** Called with the bytes of every blob evicted. */
  onEvict?: (digest: Digest, size: number) => void;
  /** Called for every blob that could not be removed when evicted. */
  onEvictionFailure?: (digest: Digest, error: Error) => void;
  evictionRetryMs?: number;
  /** Called for every cached blob found corrupt (then evicted). */
  onCorrupt?: (digest: Digest, foundBy: CorruptionCheck) => void;
  /** Called for every write the data directory refused (see refusedWriteCode). */
  onRefusedWrite?: (code: string) => void;
  now?: () => number;
}

/** A pin keeps a complete blob from eviction while it is read. */
export interface BlobPin {
  readonly path: string;
  readonly size: number;
  release(): void;
}

/** Piece hashes of the records kept parsed (RecordCache): ~6 MB at most, a 1 GiB blob's record is 513. */
const RECORD_CACHE_PIECE_HASHES = 64 * 1024;

/**
 * Content-addressed blob store: complete blobs (whole digest verified) under
 * blobs/sha256/<hex>, partials under partial/. The index of complete blobs is
 * the one home of cache state; eviction is LRU between watermarks and never
 * touches pinned blobs or partials in progress.
 */
export class BlobStore {
  readonly paths: StorePaths;
  readonly #blobs = new Map<Digest, BlobEntry>();
  /** Records of indexed blobs lately read, parsed: written and removed only through this store. */
  readonly #records = new RecordCache({ maxPieceHashes: RECORD_CACHE_PIECE_HASHES });
  /** Reserved bytes of partials being written. */
  readonly #partials = new Map<Digest, number>();
  readonly #marks: Watermarks;
  readonly #log: Logger;
  readonly #onEvict: ((digest: Digest, size: number) => void) | undefined;
  readonly #onEvictionFailure: ((digest: Digest, error: Error) => void) | undefined;
  readonly #onCorrupt: ((digest: Digest, foundBy: CorruptionCheck) => void) | undefined;
  readonly #onRefusedWrite: ((code: string) => void) | undefined;
  readonly #now: () => number;
  readonly #evictions = new SerialQueue();
  readonly #evictionRetryMs: number;
  /** Blobs whose removal failed, left alone by eviction until then. */
  readonly #undeletableUntil = new Map<Digest, number>();
  #retryTimer: NodeJS.Timeout | undefined;
  /** The code of the last refused write, while the data directory has not taken one since. */
  #refusing: string | undefined;
  #lastGiveBack = Number.NEGATIVE_INFINITY;
  /** The capacity asked for; a full disk lowers the working one until it has room again. */
  readonly #configuredCapacity: number;

  constructor(options: BlobStoreOptions) {
    this.paths = options.paths;
    this.#marks = {
      capacity: options.capacity,
      high: options.highWatermark ?? 0.9,
      low: options.lowWatermark ?? 0.75,
    };
    this.#configuredCapacity = options.capacity;
    this.#log = options.logger;
    this.#onEvict = options.onEvict;
    this.#onEvictionFailure = options.onEvictionFailure;
    this.#evictionRetryMs = options.evictionRetryMs ?? EVICTION_RETRY_MS;
    this.#onCorrupt = options.onCorrupt;
    this.#onRefusedWrite = options.onRefusedWrite;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Creates the layout, indexes complete blobs (oldest modified first) and
   * removes temp leftovers. A blob whose file is not the size its record says
   * (truncated, or grown) is removed, not indexed.
   */
  async init(): Promise<void> {
    for (const dir of [
      this.paths.blobsDir,
      this.paths.blobRecordsDir,
      this.paths.partialDir,
      this.paths.manifestsDir,
      this.paths.tagsDir,
    ]) {
      await mkdir(dir, { recursive: true });
    }
    for (const name of await readdir(this.paths.blobsDir)) {
      const path = join(this.paths.blobsDir, name);
      if (name.endsWith('.tmp') || !isDigest(`sha256:${name}`)) {
        await rm(path, { force: true, recursive: true });
        continue;
      }
      const digest = digestFromHex(name);
      const info = await stat(path);
      if (!info.isFile()) {
        this.#log.warn({ path }, 'not a regular file where a blob belongs: left alone, not indexed');
        continue;
      }
      const record = await readBlobRecord(this.paths, digest);
      if (record && record.size !== info.size) {
        await this.#removeCorrupt(digest, 'index', `file of ${info.size} bytes, recorded ${record.size}`);
        continue;
      }
      this.#blobs.set(digest, {
        size: info.size,
        lastAccess: info.mtimeMs,
        pins: 0,
        verifiedAt: Number.NEGATIVE_INFINITY,
      });
    }
    for (const name of await readdir(this.paths.blobRecordsDir)) {
      const hex = name.replace(/\.json$/, '');
      if (!isDigest(`sha256:${hex}`) || !this.#blobs.has(digestFromHex(hex))) {
        await rm(join(this.paths.blobRecordsDir, name), { force: true });
      }
    }
    // Small files (partial bitmaps, manifests, tags) are written to a temp file and renamed;
    // a crash can leave the temp file in any of these directories.
    for (const dir of [this.paths.partialDir, this.paths.manifestsDir, this.paths.tagsDir]) {
      for (const name of await readdir(dir, { recursive: true })) {
        if (name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
      }
    }
    await this.#evictIfNeeded();
  }

  has(digest: Digest): boolean {
    return this.#blobs.has(digest);
  }

  sizeOf(digest: Digest): number | undefined {
    return this.#blobs.get(digest)?.size;
  }

  /**
   * Pins a complete blob for reading once its file is checked to be the size
   * it was stored with; a blob whose file is not (truncated, removed) is
   * evicted and undefined returned, as for a blob that is not here.
   */
  async pinChecked(digest: Digest): Promise<BlobPin | undefined> {
    const pin = this.pin(digest);
    if (!pin) return undefined;
    const size = await stat(pin.path).then(
      (info) => (info.isFile() ? info.size : -1),
      () => -1,
    );
    if (size === pin.size) return pin;
    pin.release();
    await this.discardCorrupt(digest, 'open', `file of ${size} bytes, expected ${pin.size}`);
    return undefined;
  }

  /** Pins a complete blob for reading, or returns undefined when it is not here. */
  pin(digest: Digest): BlobPin | undefined {
    const entry = this.#blobs.get(digest);
    if (!entry) return undefined;
    entry.pins++;
    entry.lastAccess = this.#now();
    let released = false;
    return {
      path: this.paths.blob(digest),
      size: entry.size,
      release: () => {
        if (released) return;
        released = true;
        entry.pins--;
      },
    };
  }

  /** The size and piece hashes a complete blob was stored with, if recorded. */
  record(digest: Digest): Promise<BlobRecord | undefined> {
    const read = () => readBlobRecord(this.paths, digest);
    return this.#blobs.has(digest) ? this.#records.get(digest, read) : read();
  }

  /** Its bytes were just hashed in full and matched. */
  markVerified(digest: Digest): void {
    const entry = this.#blobs.get(digest);
    if (entry) entry.verifiedAt = this.#now();
  }

  /**
   * Records the check blocks of a blob whose bytes were just hashed in full and matched its digest
   * (a record written before check blocks existed, or one that disagrees with those bytes).
   */
  async recordCheckBlocks(digest: Digest, checkBlocks: Uint32Array): Promise<void> {
    const entry = this.#blobs.get(digest);
    const record = await this.record(digest);
    if (!entry || record?.size !== entry.size) return;
    const known = record.checkBlocks;
    if (known && known.length === checkBlocks.length && known.every((sum, i) => sum === checkBlocks[i]))
      return;
    const updated = { ...record, checkBlocks };
    await writeBlobRecord(this.paths, digest, updated);
    this.#records.set(digest, updated);
  }

  /** The blob verified longest ago, if that was before `before` (ms since epoch). */
  leastRecentlyVerified(before: number): { digest: Digest; size: number } | undefined {
    let oldest: { digest: Digest; size: number; at: number } | undefined;
    for (const [digest, entry] of this.#blobs) {
      if (entry.verifiedAt < before && (!oldest || entry.verifiedAt < oldest.at)) {
        oldest = { digest, size: entry.size, at: entry.verifiedAt };
      }
    }
    return oldest && { digest: oldest.digest, size: oldest.size };
  }

  /**
   * A cached blob's bytes are not what was stored: it leaves the index at
   * once (readers that pinned it keep their open file) and its file goes.
   */
  async discardCorrupt(digest: Digest, foundBy: CorruptionCheck, detail: string): Promise<void> {
    const entry = this.#blobs.get(digest);
    if (!entry) return;
    this.#blobs.delete(digest);
    await this.#removeCorrupt(digest, foundBy, detail);
    this.#onEvict?.(digest, entry.size);
  }

  async #removeCorrupt(digest: Digest, foundBy: CorruptionCheck, detail: string): Promise<void> {
    this.#log.error({ digest, foundBy, detail }, 'cached blob is corrupt; evicted');
    this.#onCorrupt?.(digest, foundBy);
    this.#records.delete(digest);
    try {
      await rm(this.paths.blob(digest), { force: true, recursive: true });
      await removeBlobRecord(this.paths, digest);
    } catch (error) {
      this.#log.warn(
        { digest, err: { code: (error as NodeJS.ErrnoException).code } },
        'could not remove corrupt blob',
      );
    }
  }

  /** Complete blobs held: digest and size. */
  *entries(): Generator<{ digest: Digest; size: number }> {
    for (const [digest, entry] of this.#blobs) yield { digest, size: entry.size };
  }

  get usedBytes(): number {
    let used = 0;
    for (const entry of this.#blobs.values()) used += entry.size;
    for (const size of this.#partials.values()) used += size;
    return used;
  }

  get blobCount(): number {
    return this.#blobs.size;
  }

  get capacity(): number {
    return this.#marks.capacity;
  }

  /** Whether a blob of this size can be cached at all. */
  fits(size: number): boolean {
    return size <= this.#marks.capacity * this.#marks.high;
  }

  async createPartial(digest: Digest, size: number, pieceSize?: number): Promise<PartialBlob> {
    const room = await this.#hasRoomFor(size);
    // The disk that was full has room again: the cache may grow back to its configured size.
    if (room) this.#marks.capacity = this.#configuredCapacity;
    if (!this.fits(size)) {
      throw new CannotCacheError(
        `blob of ${size} bytes is larger than the cache (${this.#marks.capacity} bytes)`,
      );
    }
    // The partial's file is sparse: a disk without room for the whole blob would fail it half way.
    if (!room) {
      this.noteRefusedWrite('ENOSPC');
      throw new WritesRefusedError('no room on the disk for this blob');
    }
    this.#partials.set(digest, size);
    try {
      const partial = await PartialBlob.create(this.paths, digest, size, pieceSize);
      this.#notePartialCreated();
      await this.#evictIfNeeded();
      return partial;
    } catch (error) {
      this.#partials.delete(digest);
      const code = refusedWriteCode(error);
      if (code === undefined) throw error;
      await PartialBlob.remove(this.paths, digest).catch(() => {});
      this.noteRefusedWrite(code);
      throw new WritesRefusedError(`the data directory refused a write (${code})`, { cause: error });
    }
  }

  /**
   * The data directory refused a write (read-only, full, ...): the blob or
   * manifest is served uncached. One log line when this starts, one when it
   * ends; every refusal is counted.
   */
  noteRefusedWrite(code: string): void {
    this.#onRefusedWrite?.(code);
    const first = this.#refusing === undefined;
    this.#refusing = code;
    if (code === 'ENOSPC') this.#giveBackRoom();
    if (first) {
      this.#log.error(
        { code, dataDir: this.paths.root },
        'data directory does not take writes: blobs and manifests are served uncached until it does',
      );
    }
  }

  #notePartialCreated(): void {
    if (this.#refusing === undefined) return;
    this.#refusing = undefined;
    this.#log.info({ dataDir: this.paths.root }, 'data directory takes writes again: caching resumes');
  }

  /** Whether the disk has room for a blob of `size` and a little more (a disk that cannot say: assumed so). */
  async #hasRoomFor(size: number): Promise<boolean> {
    try {
      const fs = await statfs(this.paths.root);
      return fs.bavail * fs.bsize >= size + DISK_FULL_SLACK;
    } catch {
      return true;
    }
  }

  /**
   * The disk is full: the cache works below its configured size (until the
   * disk takes writes again) and eviction makes room for downloads in progress.
   */
  #giveBackRoom(): void {
    if (this.#now() < this.#lastGiveBack + GIVE_BACK_INTERVAL_MS) return;
    this.#lastGiveBack = this.#now();
    const target = Math.floor(this.usedBytes * 0.9);
    this.#marks.capacity = Math.min(this.#marks.capacity, Math.max(target, 1));
    void this.#evictIfNeeded();
  }

  /** Reopens and re-verifies a partial from an earlier run, if there is one. */
  async resumePartial(
    digest: Digest,
    onVerifiedPrefix?: VerifiedPrefixListener,
  ): Promise<PartialBlob | undefined> {
    const partial = await PartialBlob.resume(this.paths, digest, onVerifiedPrefix);
    if (partial) {
      this.#partials.set(digest, partial.layout.size);
      this.#log.info(
        { digest, pieces: partial.present.count, of: partial.layout.count },
        'resuming partial blob',
      );
    }
    return partial;
  }

  /**
   * Turns a partial whose whole digest was verified into a complete blob (atomic rename);
   * `checkBlocks` are the checksums of the bytes that digest was computed over.
   */
  async commit(partial: PartialBlob, checkBlocks?: Uint32Array): Promise<void> {
    // Its pieces stay leasable until the blob is indexed here: a peer asking meanwhile is answered
    // (told "not here", the scheduler would forget this node holds the blob).
    await partial.seal();
    const { size, pieceSize, count } = partial.layout;
    const pieceHashes = Array.from({ length: count }, (_, i) => partial.pieceHashes.get(i));
    const record: BlobRecord = {
      size,
      pieceSize,
      pieceHashes: pieceHashes.every((h) => h !== undefined) ? pieceHashes : [],
      ...(checkBlocks ? { checkBlocks } : {}),
    };
    await writeBlobRecord(this.paths, partial.digest, record);
    this.#records.set(partial.digest, record);
    await rename(partial.dataPath, this.paths.blob(partial.digest));
    await rm(this.paths.partialMeta(partial.digest), { force: true });
    this.#partials.delete(partial.digest);
    const now = this.#now();
    this.#blobs.set(partial.digest, { size, lastAccess: now, pins: 0, verifiedAt: now });
    await partial.release();
    await this.#evictIfNeeded();
  }

  /** Removes a partial and its bitmap (its content was wrong or it is abandoned). */
  async discardPartial(partial: PartialBlob): Promise<void> {
    await partial.release();
    await PartialBlob.remove(this.paths, partial.digest);
    this.#partials.delete(partial.digest);
  }

  /** Closes a partial, keeping it on disk for a later resume. */
  async suspendPartial(partial: PartialBlob): Promise<void> {
    await partial.close();
    this.#partials.delete(partial.digest);
  }

  /**
   * Evicts down to the low watermark, one pass at a time. Never rejects: a blob
   * that cannot be removed stays indexed (its bytes are still on disk), is
   * logged and counted, other blobs are evicted in its place, and it is tried
   * again later. Nothing waiting on eviction is held up by it.
   */
  #evictIfNeeded(): Promise<void> {
    return this.#evictions
      .run(() => this.#evictPass())
      .catch((error: Error) => {
        this.#log.error({ err: error.message }, 'eviction pass failed');
      });
  }

  async #evictPass(): Promise<void> {
    const now = this.#now();
    for (const [digest, until] of this.#undeletableUntil) {
      if (until <= now) this.#undeletableUntil.delete(digest);
    }
    // A blob that cannot be removed is set aside and the choice made again without it.
    for (let complete = false; !complete; ) {
      complete = true;
      for (const digest of chooseEvictions(this.#evictionCandidates(), this.usedBytes, this.#marks)) {
        const entry = this.#blobs.get(digest as Digest);
        if (!entry || entry.pins > 0) continue;
        if (!(await this.#remove(digest as Digest, entry))) complete = false;
      }
    }
  }

  #evictionCandidates(): CacheEntry[] {
    return [...this.#blobs].map(([key, e]) => ({
      key,
      size: e.size,
      lastAccess: e.lastAccess,
      pinned: e.pins > 0 || this.#undeletableUntil.has(key),
    }));
  }

  /** Removes one evicted blob; false if it could not (it is kept, and set aside for a while). */
  async #remove(digest: Digest, entry: BlobEntry): Promise<boolean> {
    this.#blobs.delete(digest);
    this.#records.delete(digest);
    try {
      await rm(this.paths.blob(digest), { force: true });
    } catch (error) {
      // Still on disk: it still counts, and may still be read.
      if (!this.#blobs.has(digest)) this.#blobs.set(digest, entry);
      this.#undeletableUntil.set(digest, this.#now() + this.#evictionRetryMs);
      this.#log.error(
        { digest, err: (error as Error).message, retryInMs: this.#evictionRetryMs },
        'cannot remove an evicted blob; evicting others instead and trying it again later',
      );
      this.#onEvictionFailure?.(digest, error as Error);
      this.#retryLater();
      return false;
    }
    this.#log.info({ digest, size: entry.size }, 'evicted blob');
    this.#onEvict?.(digest, entry.size);
    // A record left behind is removed at the next start-up.
    await removeBlobRecord(this.paths, digest).catch(() => {});
    return true;
  }

  #retryLater(): void {
    if (this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#evictIfNeeded();
    }, this.#evictionRetryMs);
    this.#retryTimer.unref();
  }
}
