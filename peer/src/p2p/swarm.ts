import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Digest, MAX_MANIFEST_BYTES, sha256Digest } from '@shoal/oci';
import { createShoalNode, type ShoalNode } from '@shoal/p2p';
import {
  Bitfield,
  MIN_PIECE_RATE,
  type Preheat,
  pieceLayout,
  type Register,
  slotsForRate,
} from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import type { Registry } from 'prom-client';
import type { ComponentWrappers } from '../component-wrappers.ts';
import type { PeerContent } from '../endpoint/context.ts';
import type { SendBudget } from '../memory/send-budget.ts';
import type { PeerMetrics } from '../metrics.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { ManifestCache } from '../store/manifest-cache.ts';
import type { TaskManager, TaskRunner } from '../task/task-manager.ts';
import { ContentAnnouncer } from './announcer.ts';
import { Conductor } from './conductor.ts';
import { learnAddresses } from './peer-addresses.ts';
import { fetchPiece } from './piece-fetcher.ts';
import { startPieceServer } from './piece-server.ts';
import { PieceStreams } from './piece-streams.ts';
import { findProviders, type Provider } from './provider-download.ts';
import { askPublicPairing, type PublicKnowledge, servePublicPairings } from './public-pairings.ts';
import { RateLimiter } from './rate-limiter.ts';
import { SchedulerClient } from './scheduler-client.ts';

/**
 * Liveness pings on every connection, the scheduler's included: a scheduler answers one per
 * peer per interval, so 30 s instead of libp2p's 10 s is a third of that load on a scheduler
 * of thousands; a scheduler gone silent is still noticed within about half a minute.
 */
const PEER_PING_INTERVAL_MS = 30_000;

/**
 * How late a liveness ping may be answered before its connection is dropped. libp2p's 5 s is
 * too eager for a node busy with a rollout: a live scheduler dropped for a late answer ends every
 * download's session and sends their blobs to the origin (40 peers on 2 cores lost 36 of them).
 * A peer that went silent is left by the piece fetch's own idle timeout long before this.
 */
const PEER_PING_TIMEOUT_MS = 30_000;

export interface SwarmConfig {
  privateKey: PrivateKey;
  listen: string[];
  schedulers: string[];
  labels: Record<string, string>;
  uploadSlots: number;
  downloadSlots: number;
  /** bytes/s, 0 = unlimited */
  downloadRate: number;
  uploadRate: number;
  pskFile?: string;
  pieceTimeoutMs: number;
  stallTimeoutMs: number;
  /** Largest piece size served to other peers (a blob's own layout is served whatever its size). */
  maxPieceSize: number;
}

export interface Swarm {
  readonly node: ShoalNode;
  /** Manifests and announcements for the endpoint. */
  readonly content: PeerContent;
  readonly runner: TaskRunner;
  /** Holds --download-rate for every piece this node takes in. */
  readonly downloadLimiter: RateLimiter;
  readonly scheduler: SchedulerClient;
  readonly announcer: ContentAnnouncer;
  /** The node no longer holds a blob: its DHT record is withdrawn and the schedulers are told. */
  dropped(digest: Digest): void;
  stop(): Promise<void>;
}

/** Connects to up to JOIN_PEERS of the listed peers, in the background. */
async function joinPeers(
  node: ShoalNode,
  peers: { id: string; addrs: string[] }[],
  logger: Logger,
): Promise<void> {
  for (const peer of peers.slice(0, JOIN_PEERS)) {
    try {
      const id = peerIdFromString(peer.id);
      if (node.getConnections(id).length > 0) continue;
      await learnAddresses(node, id, peer.addrs);
      await node.dial(id, { signal: AbortSignal.timeout(5_000) });
    } catch (error) {
      logger.debug({ peer: peer.id, err: (error as Error).message }, 'could not connect to a swarm peer');
    }
  }
}

const JOIN_PEERS = 8;

/**
 * This node's part in the swarm: the libp2p node, the piece server, the
 * scheduler connections and the conductor that runs tasks through them.
 */
export async function startSwarm(
  config: SwarmConfig,
  deps: {
    store: BlobStore;
    manifests: ManifestCache;
    /** The node's tasks; undefined while the daemon is still starting (requests arrive before). */
    tasks: () => TaskManager | undefined;
    metrics: PeerMetrics;
    /** The registry /metrics serves; libp2p's own metrics join it. */
    metricsRegistry?: Registry;
    /** What this node knows to be public, answered to other nodes while upstream is unreachable. */
    publicKnowledge: PublicKnowledge;
    /** Caches an object a scheduler asked for; rejects with the reason it could not. */
    preheat?: (request: Preheat) => Promise<void>;
    /** The node's memory for bytes on their way to readers, shared with the registry endpoint. */
    budget: SendBudget;
    logger: Logger;
    wrappers?: ComponentWrappers;
  },
): Promise<Swarm> {
  const node = await createShoalNode({
    privateKey: config.privateKey,
    listen: config.listen,
    dht: true,
    pingIntervalMs: PEER_PING_INTERVAL_MS,
    pingTimeoutMs: PEER_PING_TIMEOUT_MS,
    ...(deps.metricsRegistry ? { metricsRegistry: deps.metricsRegistry } : {}),
    ...(config.pskFile ? { pskFile: config.pskFile } : {}),
  });
  const pieceStreams = new PieceStreams(node, {
    onStream: (reused) => deps.metrics.pieceStreams.inc({ stream: reused ? 'reused' : 'opened' }),
  });
  const downloadLimiter = new RateLimiter(config.downloadRate);
  const uploadLimiter = new RateLimiter(config.uploadRate);
  const uploadSlots = linkSlots('upload', config.uploadSlots, config.uploadRate, deps.logger);
  const downloadSlots = linkSlots('download', config.downloadSlots, config.downloadRate, deps.logger);
  await startPieceServer({
    node,
    store: deps.store,
    findTask: (digest) => deps.tasks()?.get(digest),
    findManifest: async (digest) => (await deps.manifests.get(digest))?.bytes,
    uploadSlots,
    limiter: uploadLimiter,
    budget: deps.budget,
    maxPieceSize: config.maxPieceSize,
    logger: deps.logger,
    onUpload: (bytes) => deps.metrics.uploadedBytes.inc(bytes),
    onRequest: (status) => deps.metrics.pieceRequests.inc({ status }),
    ...(deps.wrappers?.servedPiece ? { wrapPiece: deps.wrappers.servedPiece } : {}),
  });
  await servePublicPairings(node, deps.publicKnowledge, deps.logger);
  const registration = async (): Promise<Register> => ({
    addrs: node.getMultiaddrs().map((ma) => ma.toString()),
    labels: new Map(Object.entries(config.labels)),
    uploadSlots,
    uploadRate: config.uploadRate,
    downloadRate: config.downloadRate,
    holdings: [...deps.store.entries()]
      .filter(({ size }) => size > 0)
      .map(({ digest, size }) => {
        const layout = pieceLayout(size);
        return {
          digest,
          size: size,
          pieceSize: layout.pieceSize,
          bitfield: Bitfield.full(layout.count).bytes,
          complete: true,
        };
      }),
  });
  const announcer = new ContentAnnouncer(
    node.services.dht!,
    deps.logger,
    (kind, ok) => deps.metrics.dhtOperations.inc({ operation: kind, result: ok ? 'ok' : 'error' }),
    () => (deps.tasks()?.active ?? 0) > 0,
  );
  for (const { digest } of deps.store.entries()) announcer.provide(digest);
  const swarmPeers = new Map<string, Provider>();
  /** Peers listed by a scheduler, and anyone connected now (peers that joined later dialled us). */
  const knownPeers = (): Provider[] => {
    const known = new Map(swarmPeers);
    for (const connection of node.getConnections()) {
      const id = connection.remotePeer.toString();
      if (!known.has(id)) known.set(id, { id, addrs: [connection.remoteAddr.toString()] });
    }
    return [...known.values()];
  };
  const scheduler = new SchedulerClient({
    node,
    addresses: config.schedulers,
    registration,
    logger: deps.logger,
    // Knowing a few peers directly keeps the DHT (and the swarm) working when no scheduler answers.
    onSwarm: (peers) => {
      for (const peer of peers) swarmPeers.set(peer.id, peer);
      void joinPeers(node, peers, deps.logger);
    },
    onPreheat: (request, reply) => {
      const answer = (ok: boolean, error: string) =>
        reply({ preheatDone: { job: request.job, digest: request.digest, ok, error } });
      if (!deps.preheat) return answer(false, 'this node does not preheat');
      deps.preheat(request).then(
        () => answer(true, ''),
        (error: Error) => {
          deps.logger.warn({ digest: request.digest, err: error.message }, 'preheat failed');
          answer(false, error.message);
        },
      );
    },
  });
  scheduler.start();
  const conductor = new Conductor({
    node,
    pieceStreams,
    scheduler,
    routing: {
      provide: (digest, options) => announcer.provide(digest, options),
      findProviders: (digest) => findProviders(node, digest, deps.metrics),
    },
    swarmPeers: () => knownPeers(),
    metrics: deps.metrics,
    logger: deps.logger,
    downloadLimiter,
    downloadSlots,
    pieceTimeoutMs: config.pieceTimeoutMs,
    stallTimeoutMs: config.stallTimeoutMs,
    ...(deps.wrappers?.reportedPieceHash ? { reportedPieceHash: deps.wrappers.reportedPieceHash } : {}),
  });
  /** Nodes that may hold a digest: its providers in the DHT, and every peer known directly. */
  const candidatesFor = async (digest: string): Promise<Provider[]> => {
    const announced = await findProviders(node, digest, deps.metrics);
    return [...new Map([...announced, ...knownPeers()].map((p) => [p.id, p])).values()];
  };
  const content: PeerContent = {
    announce: (digest) => announcer.provide(digest),
    publicSince: async (registry, repository, digest) => {
      const query = { registry, repository, digest };
      return (await askPublicPairing(node, await candidatesFor(digest), query, deps.logger))?.learnedAt;
    },
    publicTag: async (registry, repository, tag) => {
      const answer = await askPublicPairing(node, knownPeers(), { registry, repository, tag }, deps.logger);
      return answer && { digest: answer.digest, resolvedAt: answer.learnedAt };
    },
    fetchManifest: async (digest) => {
      // Manifests are small: asking every known peer is cheap when the DHT names nobody.
      for (const provider of await candidatesFor(digest)) {
        try {
          const piece = await fetchPiece(pieceStreams, {
            parent: provider.id,
            parentAddrs: provider.addrs,
            digest,
            index: 0,
            pieceSize: 0,
            expectedLength: undefined,
            expectedSha256: new Uint8Array(0),
            timeoutMs: config.pieceTimeoutMs,
            limiter: downloadLimiter,
          });
          const bytes = Buffer.concat(piece.chunks);
          if (
            bytes.length <= MAX_MANIFEST_BYTES &&
            piece.blobSize === bytes.length &&
            sha256Digest(bytes) === digest
          ) {
            return bytes;
          }
          deps.metrics.verificationFailures.inc({ kind: 'manifest' });
        } catch (error) {
          deps.logger.debug(
            { provider: provider.id, digest, err: (error as Error).message },
            'manifest fetch failed',
          );
        }
      }
      return undefined;
    },
  };
  return {
    node,
    content,
    runner: (task, origin) => conductor.run(task, origin),
    downloadLimiter,
    scheduler,
    announcer,
    dropped(digest: Digest) {
      announcer.withdraw(digest);
      scheduler.dropped(digest);
    },
    async stop() {
      announcer.stop();
      await scheduler.stop();
      pieceStreams.close();
      await node.stop();
    },
  };
}

/** The slots a capped link carries with each piece at the minimum rate; says so once when fewer than configured. */
function linkSlots(direction: 'upload' | 'download', slots: number, rate: number, logger: Logger): number {
  const fitting = slotsForRate(slots, rate);
  if (fitting < slots) {
    logger.warn(
      {
        [`${direction}Slots`]: slots,
        [`${direction}Rate`]: rate,
        using: fitting,
        minPieceRate: MIN_PIECE_RATE,
      },
      `--${direction}-slots lowered: each piece needs ${MIN_PIECE_RATE} bytes/s of --${direction}-rate to make its deadline`,
    );
  }
  return fitting;
}
