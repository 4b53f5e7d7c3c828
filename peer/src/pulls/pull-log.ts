import { FROM_DISK, FROM_ORIGIN, type SourceTally } from '../task/source-tally.ts';

/** A blob's bytes by source, as `/api/v1/pulls` shows them. */
export interface SourceBytes {
  origin: number;
  /** served from this node's cache: it held the whole blob when asked */
  cache: number;
  /** a partial download of this node, picked up again */
  local: number;
  /** peer id -> bytes */
  peers: Record<string, number>;
}

export interface BlobPullView {
  digest: string;
  /** undefined while nobody knows it yet */
  size: number | undefined;
  requests: number;
  lastAt: number;
  bytes: SourceBytes;
}

export interface ImagePullView {
  /** registry/repository */
  image: string;
  /** the tag (or digest) of the last manifest asked for */
  reference: string | undefined;
  firstAt: number;
  lastAt: number;
  totals: SourceBytes;
  blobs: BlobPullView[];
}

/** How a blob was answered: from the cache (all of it), or by a download and what it landed. */
export type BlobAnswer = { cached: number } | { download: SourceTally; size: () => number | undefined };

interface BlobEntry {
  digest: string;
  requests: number;
  lastAt: number;
  /** bytes the cache answered with; 0 when a download did */
  cached: number;
  download: SourceTally | undefined;
  size: () => number | undefined;
}

interface ImageEntry {
  image: string;
  reference: string | undefined;
  firstAt: number;
  lastAt: number;
  blobs: Map<string, BlobEntry>;
}

export interface PullLogOptions {
  now: () => number;
  /** images remembered; the least recently pulled goes first */
  maxImages?: number;
  /** blobs remembered per image */
  maxBlobs?: number;
}

/**
 * The node's recent pulls, by image (registry/repository): for each blob asked
 * for, where its bytes came from. A download's tally is read live, so a pull
 * in progress shows its bytes as they land. Bounded: the least recent images
 * and blobs are forgotten.
 */
export class PullLog {
  readonly #now: () => number;
  readonly #maxImages: number;
  readonly #maxBlobs: number;
  /** in order of last use, the most recent last */
  readonly #images = new Map<string, ImageEntry>();

  constructor(options: PullLogOptions) {
    this.#now = options.now;
    this.#maxImages = options.maxImages ?? 32;
    this.#maxBlobs = options.maxBlobs ?? 128;
  }

  manifest(image: string, reference: string): void {
    const entry = this.#touch(image);
    // A tag names the pull better than the digest a client resolves it to next.
    if (
      entry.reference === undefined ||
      !reference.startsWith('sha256:') ||
      entry.reference.startsWith('sha256:')
    )
      entry.reference = reference;
  }

  blob(image: string, digest: string, answer: BlobAnswer): void {
    const entry = this.#touch(image);
    const now = this.#now();
    let blob = entry.blobs.get(digest);
    if (blob) entry.blobs.delete(digest);
    else {
      blob = { digest, requests: 0, lastAt: now, cached: 0, download: undefined, size: () => undefined };
      if (entry.blobs.size >= this.#maxBlobs) entry.blobs.delete(entry.blobs.keys().next().value!);
    }
    entry.blobs.set(digest, blob);
    blob.requests++;
    blob.lastAt = now;
    if ('download' in answer) {
      // A newer download (a retry after a failure) tallies what the older one landed as FROM_DISK.
      blob.download = answer.download;
      blob.size = answer.size;
      blob.cached = 0;
    } else if (!blob.download && blob.cached === 0) {
      // A cache hit after a download (a client's retry) does not make a downloaded blob a cached one.
      blob.cached = answer.cached;
      blob.size = () => answer.cached;
    }
  }

  /** The most recent pull first. */
  view(): ImagePullView[] {
    const images: ImagePullView[] = [];
    for (const entry of this.#images.values()) {
      const totals = noBytes();
      const blobs: BlobPullView[] = [];
      for (const blob of entry.blobs.values()) {
        const bytes = bytesOf(blob);
        addInto(totals, bytes);
        blobs.push({
          digest: blob.digest,
          size: blob.size(),
          requests: blob.requests,
          lastAt: blob.lastAt,
          bytes,
        });
      }
      images.push({
        image: entry.image,
        reference: entry.reference,
        firstAt: entry.firstAt,
        lastAt: entry.lastAt,
        totals,
        blobs: blobs.reverse(),
      });
    }
    return images.reverse();
  }

  #touch(image: string): ImageEntry {
    const now = this.#now();
    let entry = this.#images.get(image);
    if (entry) this.#images.delete(image);
    else {
      entry = { image, reference: undefined, firstAt: now, lastAt: now, blobs: new Map() };
      if (this.#images.size >= this.#maxImages) this.#images.delete(this.#images.keys().next().value!);
    }
    entry.lastAt = now;
    this.#images.set(image, entry);
    return entry;
  }
}

function noBytes(): SourceBytes {
  return { origin: 0, cache: 0, local: 0, peers: {} };
}

function bytesOf(blob: BlobEntry): SourceBytes {
  const bytes = noBytes();
  bytes.cache = blob.cached;
  for (const [source, count] of blob.download?.entries() ?? []) {
    if (source === FROM_ORIGIN) bytes.origin += count;
    else if (source === FROM_DISK) bytes.local += count;
    else bytes.peers[source] = (bytes.peers[source] ?? 0) + count;
  }
  return bytes;
}

function addInto(totals: SourceBytes, bytes: SourceBytes): void {
  totals.origin += bytes.origin;
  totals.cache += bytes.cache;
  totals.local += bytes.local;
  for (const [peer, count] of Object.entries(bytes.peers))
    totals.peers[peer] = (totals.peers[peer] ?? 0) + count;
}
