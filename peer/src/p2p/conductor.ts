import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '@shoal/oci';
import type { ShoalNode } from '@shoal/p2p';
import type { Logger } from '@shoal/telemetry';
import type { ContentRouting, Provider, SchedulerLink } from '../download/ports.ts';
import { downloadWithScheduler, type SessionOptions } from '../download/session.ts';
import { SwarmProgress } from '../download/swarm-progress.ts';
import { systemClock } from '../download/system-clock.ts';
import type { PeerMetrics } from '../metrics.ts';
import type { BlobTask } from '../task/blob-task.ts';
import { DigestMismatchError } from '../task/errors.ts';
import { downloadFromOrigin, type OriginSource } from '../task/origin-download.ts';
import { originPieces } from '../task/origin-pieces.ts';
import { streamedParentPieces } from './parent-pieces.ts';
import type { PieceStreams } from './piece-streams.ts';
import { downloadFromProviders, probeHolders } from './provider-download.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { RecentMismatches } from './recent-mismatches.ts';

export interface ConductorOptions {
  node: ShoalNode;
  /** streams to parents, kept between pieces */
  pieceStreams: PieceStreams;
  scheduler: SchedulerLink;
  /** announcing and finding holders without a scheduler */
  routing: ContentRouting;
  /** Peers of the swarm this node knows of, whatever they hold. */
  swarmPeers: () => Provider[];
  metrics: PeerMetrics;
  logger: Logger;
  downloadLimiter: RateLimiter;
  /** concurrent piece fetches from parents */
  downloadSlots: number;
  pieceTimeoutMs: number;
  /** no progress for this long with the scheduler: fetch the rest from the origin */
  stallTimeoutMs: number;
  /** The sha256 reported for a piece fetched from the origin (default: the one computed). */
  reportedPieceHash?: (digest: Digest, index: number, sha256Hex: string) => string;
}

/**
 * Runs one blob task with the scheduler: opens it, fetches assigned pieces
 * from parents (verified against the piece table) and assigned ranges from
 * the origin, reports progress in batches, and asks for more. Without a
 * scheduler, or when it goes away or stalls, the task finishes from the origin.
 * A blob whose copy failed its digest here lately comes from the origin alone.
 */
export class Conductor {
  readonly #options: ConductorOptions;
  readonly #mismatches = new RecentMismatches();
  readonly #swarmProgress = new SwarmProgress(systemClock);

  constructor(options: ConductorOptions) {
    this.#options = options;
  }

  async run(task: BlobTask, origin: OriginSource): Promise<void> {
    task.finished.catch((error: unknown) => {
      if (error instanceof DigestMismatchError) this.#mismatches.note(task.digest);
    });
    if (this.#mismatches.has(task.digest)) {
      this.#options.logger.warn(
        { digest: task.digest },
        'this blob failed its digest here lately; fetching it from the origin alone',
      );
      await downloadFromOrigin(task, origin, this.#originOptions());
      return;
    }
    const scheduled = await downloadWithScheduler(task, this.#options.scheduler, {
      ...this.#sessionOptions(task, origin),
      fallback: (knownParents) => this.#withoutScheduler(task, origin, knownParents),
    });
    if (!scheduled) await this.#withoutScheduler(task, origin);
  }

  #sessionOptions(task: BlobTask, origin: OriginSource): SessionOptions {
    const { metrics, logger, downloadLimiter } = this.#options;
    return {
      parents: streamedParentPieces(this.#options.pieceStreams, downloadLimiter, metrics),
      origin: originPieces(task, origin, this.#originOptions()),
      clock: systemClock,
      metrics,
      logger,
      downloadSlots: this.#options.downloadSlots,
      pieceTimeoutMs: this.#options.pieceTimeoutMs,
      stallTimeoutMs: this.#options.stallTimeoutMs,
      swarmProgress: this.#swarmProgress,
      ...(this.#options.reportedPieceHash ? { reportedPieceHash: this.#options.reportedPieceHash } : {}),
    };
  }

  /** No scheduler: DHT providers and parents met earlier share the work, the origin covers what they lack. */
  async #withoutScheduler(
    task: BlobTask,
    origin: OriginSource,
    knownParents: Provider[] = [],
  ): Promise<void> {
    const { node, metrics, logger } = this.#options;
    // Announce the partial download at once: without a scheduler, peers find each other through the DHT.
    this.#options.routing.provide(task.digest, { urgent: true });
    const found = await this.#options.routing.findProviders(task.digest);
    let providers = [...new Map([...knownParents, ...found].map((p) => [p.id, p])).values()];
    const downloadOptions = {
      node,
      pieceStreams: this.#options.pieceStreams,
      metrics,
      logger,
      limiter: this.#options.downloadLimiter,
      concurrency: this.#options.downloadSlots,
      pieceTimeoutMs: this.#options.pieceTimeoutMs,
    };
    if (providers.length === 0)
      providers = await probeHolders(this.#options.swarmPeers(), task.digest, downloadOptions);
    // Peers that lost the scheduler together announce themselves at about the same time:
    // look again before the whole blob goes to the origin, if there are peers at all.
    for (
      let attempt = 0;
      providers.length === 0 && attempt < PEER_SEARCH_RETRIES && this.#options.swarmPeers().length > 0;
      attempt++
    ) {
      await sleep(PEER_SEARCH_DELAY_MS);
      providers = await this.#options.routing.findProviders(task.digest);
    }
    logger.info({ digest: task.digest, providers: providers.length }, 'continuing without a scheduler');
    if (providers.length === 0) {
      await downloadFromOrigin(task, origin, this.#originOptions());
      return;
    }
    await downloadFromProviders(task, origin, providers, downloadOptions);
  }

  #originOptions() {
    return {
      onBytes: (bytes: number) => this.#options.metrics.downloadedBytes.inc({ source: 'origin' }, bytes),
      pace: (bytes: number) => this.#options.downloadLimiter.take(bytes),
    };
  }
}

/** Further DHT lookups, and the pause before each, when no peer is found for a download without a scheduler. */
const PEER_SEARCH_RETRIES = 2;
const PEER_SEARCH_DELAY_MS = 1_500;
