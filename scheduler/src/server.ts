import { type Credentials, RegistryClient, UpstreamResolver } from '@shoal/oci';
import { createShoalNode, loadOrCreateIdentity } from '@shoal/p2p';
import {
  type AdminServer,
  createMetricsRegistry,
  type Logger,
  startAdminServer,
  tuneSchedulerRuntime,
} from '@shoal/telemetry';
import { Dispatcher } from './dispatcher.ts';

import { createSchedulerMetrics } from './metrics.ts';
import { handlePreheatHttp } from './preheat/http.ts';
import { PreheatRunner } from './preheat/runner.ts';
import { SchedulerService } from './service.ts';
import { SwarmState } from './state/swarm-state.ts';
import { SwarmTraffic } from './state/traffic.ts';
import { SwarmEvents } from './view/swarm-events.ts';
import { SwarmFeed } from './view/swarm-feed.ts';
import { handleSwarmHttp } from './view/swarm-http.ts';

export interface SchedulerConfig {
  /** libp2p multiaddrs to listen on */
  listen: string[];
  /** host:port of the admin HTTP */
  http: string;
  dataDir: string;
  pskFile?: string;
  originRangePieces?: number;
  firstOriginRangePieces?: number;
  originFetchers?: number;
  /** the most pieces in one lease (default LEASE_PIECES) */
  leasePieces?: number;
  /** peers a task needs before its assignments become leases (default LEASE_MIN_PEERS) */
  leaseMinPeers?: number;
  /** leases may take pieces on their way to their parent (default false) */
  pendingPieces?: boolean;
  originTimeoutMs?: number;
  pieceTimeoutMs?: number;
  /** fixed piece size; 0 or absent = chosen from each blob's size */
  pieceSize?: number;
  /** registry name -> base URL, for resolving images to preheat (default https://<name>) */
  registryEndpoints?: Record<string, string>;
  /** upstream credentials for resolving images to preheat */
  credentials?: (registry: string) => Credentials | undefined;
  /** peers a `seed` preheat asks (default 2) */
  preheatSeeds?: number;
}

export interface RunningScheduler {
  readonly peerId: string;
  readonly multiaddrs: string[];
  readonly adminAddress: string;
  stop(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 1000;
/** Longest stretch the sweep's retries keep the event loop before messages are read again. */
const RETRY_SLICE_MS = 5;
/** Peers (connections) one scheduler serves at most. */
const SCHEDULER_MAX_CONNECTIONS = 10_000;
/** yamux's smallest stream window. */
const SCHEDULER_STREAM_WINDOW = 256 * 1024;

/** Wires the libp2p node, state, dispatcher, protocol service and admin HTTP into a running scheduler. */
export async function startScheduler(config: SchedulerConfig, logger: Logger): Promise<RunningScheduler> {
  tuneSchedulerRuntime();
  // Checked before anything is started: a bad registry name must not leave a running node behind.
  const upstreams = new UpstreamResolver({
    endpoints: config.registryEndpoints ?? {},
    defaultRegistry: 'docker.io',
  });
  const metricsRegistry = createMetricsRegistry({ service: 'scheduler' });
  const node = await createShoalNode({
    privateKey: await loadOrCreateIdentity(config.dataDir),
    listen: config.listen,
    // A DHT server every peer is connected to: the swarm's bootstrap point for content routing.
    dht: true,
    metricsRegistry,
    // One connection per peer: libp2p's default of 1024 would refuse (and prune) peers of a larger cluster.
    maxConnections: SCHEDULER_MAX_CONNECTIONS,
    // No liveness pings of its own: libp2p pings every connection at once each interval, which at
    // thousands of peers is a burst of thousands of stream set-ups that stalls every answer behind
    // it. The peers ping their scheduler (which keeps live sessions active), and a connection of a
    // peer gone silent ends after 2 minutes without traffic.
    pingIntervalMs: 0,
    // Its messages are a few hundred bytes: a small window keeps what thousands of peers can send
    // ahead of it (buffered unread when it falls behind) at 256 KiB each instead of 4 MiB.
    streamWindow: SCHEDULER_STREAM_WINDOW,
    ...(config.pskFile ? { pskFile: config.pskFile } : {}),
  });
  const state = new SwarmState();
  const traffic = new SwarmTraffic({ now: Date.now });
  const feed = new SwarmFeed({ state, traffic });
  const events = new SwarmEvents({ feed });
  const metrics = createSchedulerMetrics(metricsRegistry, {
    peers: () => state.hosts.size,
    tasks: () => state.tasks.size,
  });
  const service: SchedulerService = new SchedulerService(node, () => dispatcher, logger, {
    onPreheatDone: (hostId, message) => preheat.onPreheatDone(hostId, message),
    onHostLeft: (hostId) => preheat.onHostLeft(hostId),
  });
  const dispatcher = new Dispatcher({
    state,
    logger,
    metrics,
    traffic,
    send: (hostId, message) => service.send(hostId, message),
    ...(config.originRangePieces ? { originRangePieces: config.originRangePieces } : {}),
    ...(config.firstOriginRangePieces ? { firstOriginRangePieces: config.firstOriginRangePieces } : {}),
    ...(config.originFetchers ? { originFetchers: config.originFetchers } : {}),
    ...(config.leasePieces ? { leasePieces: config.leasePieces } : {}),
    ...(config.leaseMinPeers ? { leaseMinPeers: config.leaseMinPeers } : {}),
    ...(config.pendingPieces ? { pendingPieces: config.pendingPieces } : {}),
    ...(config.originTimeoutMs ? { originTimeoutMs: config.originTimeoutMs } : {}),
    ...(config.pieceTimeoutMs ? { pieceTimeoutMs: config.pieceTimeoutMs } : {}),
    ...(config.pieceSize ? { pieceSize: config.pieceSize } : {}),
  });
  const registryClient = new RegistryClient(config.credentials ? { credentials: config.credentials } : {});
  const preheat = new PreheatRunner({
    client: registryClient,
    upstreams,
    peers: () => state.hosts.values(),
    send: (hostId, message) => service.send(hostId, message),
    logger,
    seeds: config.preheatSeeds ?? 2,
  });
  await service.start();
  // The sweep's retries run in slices, each followed by whatever messages arrived meanwhile.
  let retrying = false;
  const retrySlice = (): void => {
    retrying = dispatcher.retryStarved(performance.now() + RETRY_SLICE_MS);
    if (retrying) setImmediate(retrySlice);
  };
  const sweep = setInterval(() => {
    const more = dispatcher.sweep(performance.now() + RETRY_SLICE_MS);
    if (more && !retrying) {
      retrying = true;
      setImmediate(retrySlice);
    }
    preheat.sweep();
  }, SWEEP_INTERVAL_MS);
  sweep.unref();
  const multiaddrs = () => node.getMultiaddrs().map((ma) => ma.toString());
  let admin: AdminServer;
  try {
    admin = await startAdminServer({
      listen: config.http,
      metrics: metricsRegistry,
      info: () => ({ peerId: node.peerId.toString(), multiaddrs: multiaddrs() }),
      notReadyReason: () => (node.status === 'started' ? null : `libp2p node is ${node.status}`),
      routes: async (req, res) =>
        handleSwarmHttp(feed, events, req, res) || (await handlePreheatHttp(preheat, req, res)),
    });
  } catch (error) {
    clearInterval(sweep);
    events.close();
    preheat.stop();
    await registryClient.close();
    await node.stop();
    throw error;
  }
  logger.info(
    { peerId: node.peerId.toString(), multiaddrs: multiaddrs(), admin: admin.address },
    'scheduler ready',
  );
  return {
    peerId: node.peerId.toString(),
    multiaddrs: multiaddrs(),
    adminAddress: admin.address,
    async stop() {
      clearInterval(sweep);
      events.close();
      preheat.stop();
      await admin.close();
      await registryClient.close();
      await node.stop();
    },
  };
}
