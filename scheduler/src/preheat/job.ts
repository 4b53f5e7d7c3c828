/**
 * The state of one preheat job: which peer must cache which object of an
 * image, what was asked of it, what it answered. Pure: no I/O, the clock is
 * passed in. The runner feeds it the resolved image, the peers' answers and
 * departures, and sends what `take` hands out.
 */

export type PreheatState = 'pending' | 'running' | 'succeeded' | 'failed';
export type PreheatScope = 'seed' | 'all';

/** One object of the image a peer must cache. */
export interface PreheatItem {
  digest: string;
  kind: 'manifest' | 'blob';
  size: number;
  /** For the manifest a tag names: the tag, which the peer resolves upstream and remembers. */
  tag?: string;
}

/** What the job was asked to do, as shown back to the caller. */
export interface PreheatTarget {
  /** The image reference, normalised, e.g. docker.io/library/alpine:3.20. */
  image: string;
  registry: string;
  repository: string;
  scope: PreheatScope;
  /** The platform asked for, e.g. linux/arm64; undefined: the default. */
  platform?: string;
}

/** The image as resolved upstream. */
export interface PreheatResolution {
  /** Manifests first (the peer caches them), then blobs. */
  items: PreheatItem[];
  /** What the reference names (an index or a manifest). */
  digest: string;
  /** The image manifest of the platform. */
  manifest: string;
  /** The platform of the index entry picked, e.g. linux/amd64, when the reference names an index. */
  platform?: string;
}

export interface Counts {
  total: number;
  done: number;
  failed: number;
}

export interface PeerProgressView {
  id: string;
  objects: Counts;
  bytes: { total: number; done: number };
}

export interface PreheatFailure {
  peer: string;
  digest: string;
  error: string;
}

/** The JSON a GET of the job answers. */
export interface PreheatView {
  id: string;
  state: PreheatState;
  image: string;
  scope: PreheatScope;
  platform?: string;
  digest?: string;
  manifest?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Over every (peer, object) pair. */
  manifests: Counts;
  blobs: Counts;
  bytes: { total: number; done: number };
  peers: PeerProgressView[];
  error?: string;
  /** The first failures, at most MAX_FAILURES_SHOWN. */
  failures: PreheatFailure[];
}

const MAX_FAILURES_SHOWN = 10;

interface PeerProgress {
  /** Not asked yet, in order. */
  queue: PreheatItem[];
  /** Asked, not answered: digest -> item. */
  inFlight: Map<string, PreheatItem>;
  done: PreheatItem[];
  failed: PreheatItem[];
}

export class PreheatJob {
  readonly id: string;
  readonly target: PreheatTarget;
  readonly createdAt: number;
  #state: PreheatState = 'pending';
  #startedAt: number | undefined;
  #finishedAt: number | undefined;
  #lastProgress: number;
  #resolution: PreheatResolution | undefined;
  #error: string | undefined;
  readonly #peers = new Map<string, PeerProgress>();
  readonly #failures: PreheatFailure[] = [];
  #failureCount = 0;

  constructor(id: string, target: PreheatTarget, now: number) {
    this.id = id;
    this.target = target;
    this.createdAt = now;
    this.#lastProgress = now;
  }

  get state(): PreheatState {
    return this.#state;
  }

  get finished(): boolean {
    return this.#state === 'succeeded' || this.#state === 'failed';
  }

  /** The image is resolved and `peers` are to cache every item of it. */
  start(resolution: PreheatResolution, peers: readonly string[], now: number): void {
    if (this.#state !== 'pending') return;
    this.#resolution = resolution;
    this.#startedAt = now;
    this.#lastProgress = now;
    if (peers.length === 0) {
      this.fail('no peers are registered with this scheduler', now);
      return;
    }
    for (const peer of new Set(peers)) {
      this.#peers.set(peer, { queue: [...resolution.items], inFlight: new Map(), done: [], failed: [] });
    }
    this.#state = 'running';
    this.#finishIfSettled(now);
  }

  /** The job cannot go on (resolution failed, the scheduler stops): it fails with `error`. */
  fail(error: string, now: number): void {
    if (this.finished) return;
    for (const [peer, progress] of this.#peers) this.#failOutstanding(peer, progress, error);
    this.#error = error;
    this.#state = 'failed';
    this.#finishedAt = now;
  }

  /** Items to ask `peer` for now, keeping at most `maxInFlight` unanswered. */
  take(peer: string, maxInFlight: number): PreheatItem[] {
    const progress = this.#peers.get(peer);
    if (this.#state !== 'running' || !progress) return [];
    const taken: PreheatItem[] = [];
    while (progress.inFlight.size < maxInFlight && progress.queue.length > 0) {
      const item = progress.queue.shift()!;
      progress.inFlight.set(item.digest, item);
      taken.push(item);
    }
    return taken;
  }

  /** `peer` answered for `digest`. Returns false for an answer nobody asked for. */
  settle(peer: string, digest: string, ok: boolean, error: string, now: number): boolean {
    const progress = this.#peers.get(peer);
    const item = progress?.inFlight.get(digest);
    if (this.#state !== 'running' || !progress || !item) return false;
    progress.inFlight.delete(digest);
    if (ok) progress.done.push(item);
    else this.#recordFailure(peer, progress, item, error || 'failed');
    this.#lastProgress = now;
    this.#finishIfSettled(now);
    return true;
  }

  /** `peer` left: what it was asked for and what it still had to do fails. */
  dropPeer(peer: string, now: number): void {
    const progress = this.#peers.get(peer);
    if (this.#state !== 'running' || !progress) return;
    this.#failOutstanding(peer, progress, 'the peer left the scheduler');
    this.#finishIfSettled(now);
  }

  /** A running job without any answer for `idleMs` fails what is outstanding. */
  expire(now: number, idleMs: number): boolean {
    if (this.#state !== 'running' || now - this.#lastProgress <= idleMs) return false;
    const reason = `no answer from the peer within ${Math.round(idleMs / 1000)} s`;
    for (const [peer, progress] of this.#peers) this.#failOutstanding(peer, progress, reason);
    this.#finishIfSettled(now);
    return true;
  }

  view(): PreheatView {
    const manifests: Counts = { total: 0, done: 0, failed: 0 };
    const blobs: Counts = { total: 0, done: 0, failed: 0 };
    const bytes = { total: 0, done: 0 };
    const peers: PeerProgressView[] = [];
    for (const [id, progress] of this.#peers) {
      const all = [...progress.queue, ...progress.inFlight.values(), ...progress.done, ...progress.failed];
      const peerView: PeerProgressView = {
        id,
        objects: { total: all.length, done: progress.done.length, failed: progress.failed.length },
        bytes: { total: sum(all), done: sum(progress.done) },
      };
      peers.push(peerView);
      for (const item of all) (item.kind === 'blob' ? blobs : manifests).total++;
      for (const item of progress.done) (item.kind === 'blob' ? blobs : manifests).done++;
      for (const item of progress.failed) (item.kind === 'blob' ? blobs : manifests).failed++;
      bytes.total += peerView.bytes.total;
      bytes.done += peerView.bytes.done;
    }
    const resolution = this.#resolution;
    const platform = resolution?.platform ?? this.target.platform;
    return {
      id: this.id,
      state: this.#state,
      image: this.target.image,
      scope: this.target.scope,
      ...(platform ? { platform } : {}),
      ...(resolution ? { digest: resolution.digest, manifest: resolution.manifest } : {}),
      createdAt: iso(this.createdAt),
      ...(this.#startedAt !== undefined ? { startedAt: iso(this.#startedAt) } : {}),
      ...(this.#finishedAt !== undefined ? { finishedAt: iso(this.#finishedAt) } : {}),
      manifests,
      blobs,
      bytes,
      peers,
      ...(this.#error !== undefined ? { error: this.#error } : {}),
      failures: [...this.#failures],
    };
  }

  #failOutstanding(peer: string, progress: PeerProgress, error: string): void {
    const outstanding = [...progress.inFlight.values(), ...progress.queue];
    progress.inFlight.clear();
    progress.queue.length = 0;
    for (const item of outstanding) this.#recordFailure(peer, progress, item, error);
  }

  #recordFailure(peer: string, progress: PeerProgress, item: PreheatItem, error: string): void {
    progress.failed.push(item);
    this.#failureCount++;
    if (this.#failures.length < MAX_FAILURES_SHOWN) this.#failures.push({ peer, digest: item.digest, error });
  }

  #finishIfSettled(now: number): void {
    if (this.#state !== 'running') return;
    for (const progress of this.#peers.values()) {
      if (progress.queue.length > 0 || progress.inFlight.size > 0) return;
    }
    this.#finishedAt = now;
    if (this.#failureCount === 0) {
      this.#state = 'succeeded';
      return;
    }
    const pairs = [...this.#peers.values()].reduce((n, p) => n + p.done.length + p.failed.length, 0);
    const first = this.#failures[0]!;
    this.#error = `${this.#failureCount} of ${pairs} fetches failed; first: peer ${first.peer}, ${first.digest}: ${first.error}`;
    this.#state = 'failed';
  }
}

function sum(items: Iterable<PreheatItem>): number {
  let total = 0;
  for (const item of items) total += item.size;
  return total;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
