import { type Credentials, type Digest, RegistryClient, UpstreamResolver } from '@shoal/oci';
import {
  type AdminServer,
  createMetricsRegistry,
  type Logger,
  startAdminServer,
  tunePeerRuntime,
} from '@shoal/telemetry';
import type { ComponentWrappers } from './component-wrappers.ts';
import { AccessGuard } from './endpoint/access-guard.ts';
import { upstreamAccessProbe } from './endpoint/access-probe.ts';
import { SEND_CHUNK } from './endpoint/body-io.ts';
import type { EndpointContext, PeerContent } from './endpoint/context.ts';
import { DescriptorSizes } from './endpoint/descriptor-sizes.ts';
import { preheatObject } from './endpoint/preheat.ts';
import { RecentReferrers } from './endpoint/recent-referrers.ts';
import { type RegistryServer, startRegistryServer } from './endpoint/registry-server.ts';
import { DEFAULT_EXTERNAL_MEMORY_LIMIT, startExternalMemoryCollector } from './memory/external-memory.ts';
import { nodeSendBudget, SEND_PAGE_BYTES } from './memory/send-budget.ts';
import { createPeerMetrics } from './metrics.ts';
import { BufferPool } from './p2p/buffer-pool.ts';
import { RateLimiter } from './p2p/rate-limiter.ts';
import { RecentMismatches } from './p2p/recent-mismatches.ts';
import type { SwarmConfig } from './p2p/swarm.ts';
import { PullLog } from './pulls/pull-log.ts';
import { handlePullsHttp } from './pulls/pulls-http.ts';
import { BlobStore } from './store/blob-store.ts';
import { FileHasher } from './store/file-hasher.ts';
import { ManifestCache } from './store/manifest-cache.ts';
import { StorePaths } from './store/paths.ts';
import { startScrubber } from './store/scrubber.ts';
import type { BlobTask } from './task/blob-task.ts';
import { DigestMismatchError } from './task/errors.ts';
import { fetchFirst } from './task/fetch-first.ts';
import { downloadFromOrigin, type OriginSource } from './task/origin-download.ts';
import { DEFAULT_ORIGIN_STALL_TIMEOUT_MS, withProgressDeadline } from './task/origin-progress.ts';
import { TaskManager, type TaskRunner } from './task/task-manager.ts';

/** Response body buffers kept for reuse between responses (8 MiB). */
const HTTP_IDLE_BUFFERS = 8;
/** Pages kept for reuse (8 MiB), for responses going on a page at a time under pressure. */
const HTTP_IDLE_PAGES = 256;

export interface PeerDaemonConfig {
  /** host:port of the registry endpoint */
  registry: string;
  /** host:port of the admin endpoint */
  http: string;
  dataDir: string;
  registryEndpoints: Record<string, string>;
  /** Registry for requests that name none; undefined: refuse them. */
  defaultRegistry: string | undefined;
  cacheSize: number;
  credentials?: (registry: string) => Credentials | undefined;
  /** P2P settings; without schedulers the peer is a plain pull-through mirror. */
  swarm: Omit<SwarmConfig, 'privateKey'>;
  /** Answer tags from the last upstream answer while upstream is unreachable. */
  serveStaleTags: boolean;
  /** Longest wait for an upstream answer's headers, retries and token requests included. */
  upstreamTimeoutMs?: number;
  /** A transfer from the origin that sends less than 64 KiB in this long is given up. */
  originStallTimeoutMs?: number;
  /** Memory for answers on their way to clients and peers, and how long a reader may take none. */
  sending: { bufferBytes: number; readerTimeoutMs: number };
  /** HTTP requests in flight from all clients together. */
  maxRequests: number;
  /** Bytes per second the background scrub re-hashes cached blobs at; 0: no scrub. */
  scrubRate: number;
}

export interface PeerDaemon {
  readonly registryAddress: string;
  readonly adminAddress: string;
  readonly peerId: string;
  readonly context: EndpointContext;
  stop(): Promise<void>;
}

/**
 * Wires store, tasks, swarm, upstream client, endpoint and admin server into one running peer.
 * `wrappers` wrap some of those parts for a program that embeds the daemon (none by default).
 */
export async function startPeerDaemon(
  config: PeerDaemonConfig,
  logger: Logger,
  wrappers: ComponentWrappers = {},
): Promise<PeerDaemon> {
  tunePeerRuntime();
  // Validated before anything is started: a bad registry name must not leave a running swarm behind.
  const upstreams = new UpstreamResolver({
    endpoints: config.registryEndpoints,
    defaultRegistry: config.defaultRegistry,
  });
  // One budget for response bodies and served pieces alike: what readers pin is bounded for the node.
  const budget = nodeSendBudget({
    bufferBytes: config.sending.bufferBytes,
    readerTimeoutMs: config.sending.readerTimeoutMs,
  });
  const metricsRegistry = createMetricsRegistry({ service: 'peer' });
  const metrics = createPeerMetrics(metricsRegistry, {
    activeTasks: () => tasks.active,
    storeBytes: () => store.usedBytes,
    storeBlobs: () => store.blobCount,
    storeCapacity: () => store.capacity,
    schedulersConfigured: () => config.swarm.schedulers.length,
    schedulersConnected: () => swarm.info().schedulersConnected,
    sendBufferBytes: () => budget.heldBytes,
    sendWaiting: () => budget.waiting,
  });
  let startedTasks: TaskManager | undefined;
  const paths = new StorePaths(config.dataDir);
  const store = new BlobStore({
    paths,
    capacity: config.cacheSize,
    logger,
    onEvict: (digest, size) => {
      metrics.evictions.inc();
      metrics.evictedBytes.inc(size);
      swarm.dropped(digest);
    },
    onEvictionFailure: () => metrics.evictionFailures.inc(),
    onCorrupt: (_digest, foundBy) => metrics.corruptBlobs.inc({ found_by: foundBy }),
    onRefusedWrite: (code) => metrics.storeWriteFailures.inc({ code }),
  });
  await store.init();
  const manifests = new ManifestCache(paths);
  const swarm = await joinSwarm(config, {
    store,
    manifests,
    // Peers and schedulers may ask before the task manager below exists (a restarted peer is known at once).
    tasks: () => startedTasks,
    metrics,
    metricsRegistry,
    // Async: a request arriving before the endpoint context exists is refused, not thrown.
    preheat: async (request) => preheatObject(context, request),
    // Other nodes ask while upstream is unreachable; asked before the context exists, it rejects.
    publicKnowledge: {
      since: (registry, repository, digest) => context.access.publicSince(registry, repository, digest),
      tag: async (registry, repository, tag) => {
        const known = await manifests.lastKnownTag(registry, repository, tag);
        if (!known || context.access.publicSince(registry, repository, known.digest) === undefined) return;
        return { digest: known.digest, resolvedAt: known.resolvedAt };
      },
    },
    budget,
    logger,
    wrappers,
  });
  // Without a swarm the origin is the only source, and --download-rate holds for it too.
  const originLimiter = new RateLimiter(config.swarm.downloadRate);
  const digestFailures = new RecentMismatches();
  const fileHasher = new FileHasher();
  const originOnly: TaskRunner = (task, origin) =>
    downloadFromOrigin(task, origin, {
      onBytes: (bytes) => metrics.downloadedBytes.inc({ source: 'origin' }, bytes),
      pace: (bytes) => originLimiter.take(bytes, task.abort.signal),
    });
  const runner = swarm.runner ?? originOnly;
  const originStallTimeout = config.originStallTimeoutMs ?? DEFAULT_ORIGIN_STALL_TIMEOUT_MS;
  const originOf = (task: BlobTask, origin: OriginSource): OriginSource => {
    const guarded = withProgressDeadline(origin, { windowMs: originStallTimeout });
    return wrappers.origin ? wrappers.origin(guarded, task) : guarded;
  };
  const tasks: TaskManager = new TaskManager({
    store,
    logger,
    runner: (task, origin) => runner(task, originOf(task, origin)),
    // Pieces fetched ahead land in the task like any origin piece; in a swarm the scheduler hears of
    // them when it next assigns them (see README, "Ranges of a blob still downloading").
    fetchFirst: (task, origin, start, end) =>
      fetchFirst(task, originOf(task, origin), start, end, {
        onBytes: (bytes) => metrics.downloadedBytes.inc({ source: 'origin' }, bytes),
        pace: (bytes) => (swarm.downloadLimiter ?? originLimiter).take(bytes, task.abort.signal),
      }),
    onTaskEnd: (digest, result, reason) => {
      metrics.tasks.inc({ result });
      if (reason instanceof DigestMismatchError) {
        metrics.verificationFailures.inc({ kind: 'blob' });
        digestFailures.note(digest);
      }
      if (result === 'complete') swarm.content.announce(digest);
    },
  });
  startedTasks = tasks;
  const client = new RegistryClient({
    ...(config.credentials ? { credentials: config.credentials } : {}),
    ...(config.upstreamTimeoutMs ? { answerTimeoutMs: config.upstreamTimeoutMs } : {}),
  });
  const context: EndpointContext = {
    store,
    manifests,
    peers: swarm.content,
    serveStaleTags: config.serveStaleTags,
    originStallTimeoutMs: originStallTimeout,
    referrers: new RecentReferrers(),
    digestFailures,
    descriptorSizes: new DescriptorSizes(),
    fileHasher,
    tasks,
    client,
    upstreams,
    metrics,
    pulls: new PullLog({ now: Date.now }),
    logger,
    // While upstream is down, what other nodes learnt to be public is public here too.
    access: new AccessGuard({ probe: upstreamAccessProbe(client), swarm: swarm.content }),
    sending: {
      budget,
      pool: new BufferPool(SEND_CHUNK, { maxIdle: HTTP_IDLE_BUFFERS }),
      pages: new BufferPool(SEND_PAGE_BYTES, { maxIdle: HTTP_IDLE_PAGES }),
    },
  };
  const scrubber =
    config.scrubRate > 0
      ? startScrubber({
          store,
          bytesPerSecond: config.scrubRate,
          logger,
          onBytes: (bytes) => metrics.scrubbedBytes.inc(bytes),
        })
      : undefined;
  let registryServer: RegistryServer | undefined;
  let admin: AdminServer | undefined;
  const stopCollector = startExternalMemoryCollector({
    limitBytes: DEFAULT_EXTERNAL_MEMORY_LIMIT,
    intervalMs: 250,
  });
  // Readers that took nothing for the reader timeout are dropped within a quarter of it (at most a second late).
  const sweeper = setInterval(
    () => metrics.stalledReaders.inc(budget.sweep()),
    Math.min(1_000, config.sending.readerTimeoutMs / 4),
  );
  sweeper.unref();
  const stopBackground = () => {
    void fileHasher.close();
    stopCollector();
    clearInterval(sweeper);
  };
  try {
    registryServer = await startRegistryServer(context, config.registry, { maxRequests: config.maxRequests });
    const registryAddress = addressOf(registryServer);
    const peerId = swarm.info().peerId;
    admin = await startAdminServer({
      listen: config.http,
      metrics: metricsRegistry,
      info: () => ({ ...swarm.info(), registry: registryAddress }),
      notReadyReason: () => null,
      routes: async (req, res) => handlePullsHttp(context.pulls, req, res),
    });
    logger.info({ registry: registryAddress, admin: admin.address, peerId }, 'peer daemon ready');
    const started = { registryServer, admin };
    return {
      registryAddress,
      adminAddress: admin.address,
      peerId: peerId ?? '',
      context,
      async stop() {
        await started.registryServer.close();
        await scrubber?.stop();
        await tasks.shutdown();
        await swarm.stop();
        await started.admin.close();
        await client.close();
        stopBackground();
      },
    };
  } catch (error) {
    await registryServer?.close();
    await scrubber?.stop();
    await admin?.close();
    await swarm.stop();
    await client.close();
    stopBackground();
    throw error;
  }
}

function addressOf(server: RegistryServer): string {
  const address = server.server.address();
  if (address === null || typeof address === 'string') return String(address);
  return `${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
}

/** What the daemon needs of its part in the swarm. */
interface SwarmPart {
  /** How tasks run through the swarm; undefined: from the origin alone. */
  readonly runner: TaskRunner | undefined;
  /** The swarm's hold on --download-rate; undefined: from the origin alone. */
  readonly downloadLimiter: RateLimiter | undefined;
  readonly content: PeerContent;
  /** The node no longer holds a blob: its DHT record is withdrawn and the schedulers are told. */
  dropped(digest: Digest): void;
  info(): { peerId: string | null; multiaddrs: string[]; schedulersConnected: number };
  stop(): Promise<void>;
}

/**
 * Without schedulers the peer is a plain mirror and loads no libp2p at all
 * (about a third of its memory); with them, the swarm module is loaded here.
 */
async function joinSwarm(
  config: PeerDaemonConfig,
  deps: Parameters<typeof import('./p2p/swarm.ts').startSwarm>[1],
): Promise<SwarmPart> {
  if (config.swarm.schedulers.length === 0) {
    return {
      runner: undefined,
      downloadLimiter: undefined,
      content: {
        announce: () => {},
        fetchManifest: async () => undefined,
        publicSince: async () => undefined,
        publicTag: async () => undefined,
      },
      dropped: () => {},
      info: () => ({ peerId: null, multiaddrs: [], schedulersConnected: 0 }),
      stop: async () => {},
    };
  }
  const [{ startSwarm }, { loadOrCreateIdentity }] = await Promise.all([
    import('./p2p/swarm.ts'),
    import('@shoal/p2p'),
  ]);
  const swarm = await startSwarm(
    { ...config.swarm, privateKey: await loadOrCreateIdentity(config.dataDir) },
    deps,
  );
  return {
    runner: swarm.runner,
    downloadLimiter: swarm.downloadLimiter,
    content: swarm.content,
    dropped: (digest) => swarm.dropped(digest),
    info: () => ({
      peerId: swarm.node.peerId.toString(),
      multiaddrs: swarm.node.getMultiaddrs().map((ma) => ma.toString()),
      schedulersConnected: swarm.scheduler.connected,
    }),
    stop: () => swarm.stop(),
  };
}
