import { type Credentials, RegistryClient } from '@shoal/oci';
import { loadOrCreateIdentity } from '@shoal/p2p';
import { type AdminServer, createMetricsRegistry, type Logger, startAdminServer } from '@shoal/telemetry';
import { AccessGuard } from './endpoint/access-guard.ts';
import { upstreamAccessProbe } from './endpoint/access-probe.ts';
import type { EndpointContext } from './endpoint/context.ts';
import { type RegistryServer, startRegistryServer } from './endpoint/registry-server.ts';
import { UpstreamResolver } from './endpoint/upstreams.ts';
import { createPeerMetrics } from './metrics.ts';
import { type Swarm, type SwarmConfig, startSwarm } from './p2p/swarm.ts';
import { BlobStore } from './store/blob-store.ts';
import { ManifestCache } from './store/manifest-cache.ts';
import { StorePaths } from './store/paths.ts';
import { DigestMismatchError } from './task/errors.ts';
import { downloadFromOrigin } from './task/origin-download.ts';
import { TaskManager, type TaskRunner } from './task/task-manager.ts';

export interface PeerDaemonConfig {
  /** host:port of the registry endpoint */
  registry: string;
  /** host:port of the admin endpoint */
  http: string;
  dataDir: string;
  registryEndpoints: Record<string, string>;
  defaultRegistry: string;
  cacheSize: number;
  credentials?: (registry: string) => Credentials | undefined;
  /** P2P settings; without schedulers the peer is a plain pull-through mirror. */
  swarm: Omit<SwarmConfig, 'privateKey'>;
  /** Answer tags from the last upstream answer while upstream is unreachable. */
  serveStaleTags: boolean;
}

export interface PeerDaemon {
  readonly registryAddress: string;
  readonly adminAddress: string;
  readonly peerId: string;
  readonly context: EndpointContext;
  stop(): Promise<void>;
}

/** Wires store, tasks, swarm, upstream client, endpoint and admin server into one running peer. */
export async function startPeerDaemon(config: PeerDaemonConfig, logger: Logger): Promise<PeerDaemon> {
  // Validated before anything is started: a bad registry name must not leave a running swarm behind.
  const upstreams = new UpstreamResolver({
    endpoints: config.registryEndpoints,
    defaultRegistry: config.defaultRegistry,
  });
  const metricsRegistry = createMetricsRegistry({ service: 'peer' });
  const metrics = createPeerMetrics(metricsRegistry, {
    activeTasks: () => tasks.active,
    storeBytes: () => store.usedBytes,
    storeBlobs: () => store.blobCount,
    storeCapacity: () => store.capacity,
  });
  const paths = new StorePaths(config.dataDir);
  const store = new BlobStore({
    paths,
    capacity: config.cacheSize,
    logger,
    onEvict: (digest, size) => {
      metrics.evictions.inc();
      metrics.evictedBytes.inc(size);
      swarm.announcer.withdraw(digest);
    },
  });
  await store.init();
  const manifests = new ManifestCache(paths);
  const swarm: Swarm = await startSwarm(
    { ...config.swarm, privateKey: await loadOrCreateIdentity(config.dataDir) },
    { store, manifests, tasks: () => tasks, metrics, logger },
  );
  const originOnly: TaskRunner = (task, origin) =>
    downloadFromOrigin(task, origin, {
      onBytes: (bytes) => metrics.downloadedBytes.inc({ source: 'origin' }, bytes),
    });
  const tasks: TaskManager = new TaskManager({
    store,
    logger,
    runner: config.swarm.schedulers.length > 0 ? swarm.runner : originOnly,
    onTaskEnd: (digest, result, reason) => {
      metrics.tasks.inc({ result });
      if (reason instanceof DigestMismatchError) metrics.verificationFailures.inc({ kind: 'blob' });
      if (result === 'complete') swarm.announcer.provide(digest);
    },
  });
  const client = new RegistryClient(config.credentials ? { credentials: config.credentials } : {});
  const context: EndpointContext = {
    store,
    manifests,
    peers: swarm.content,
    serveStaleTags: config.serveStaleTags,
    tasks,
    client,
    upstreams,
    metrics,
    logger,
    access: new AccessGuard({ probe: upstreamAccessProbe(client) }),
  };
  let registryServer: RegistryServer | undefined;
  let admin: AdminServer | undefined;
  try {
    registryServer = await startRegistryServer(context, config.registry);
    const registryAddress = addressOf(registryServer);
    const peerId = swarm.node.peerId.toString();
    admin = await startAdminServer({
      listen: config.http,
      metrics: metricsRegistry,
      info: () => ({
        peerId,
        multiaddrs: swarm.node.getMultiaddrs().map((ma) => ma.toString()),
        registry: registryAddress,
        schedulersConnected: swarm.scheduler.connected,
      }),
      notReadyReason: () => null,
    });
    logger.info({ registry: registryAddress, admin: admin.address, peerId }, 'peer daemon ready');
    const started = { registryServer, admin };
    return {
      registryAddress,
      adminAddress: admin.address,
      peerId,
      context,
      async stop() {
        await started.registryServer.close();
        await tasks.shutdown();
        await swarm.stop();
        await started.admin.close();
        await client.close();
      },
    };
  } catch (error) {
    await registryServer?.close();
    await admin?.close();
    await swarm.stop();
    await client.close();
    throw error;
  }
}

function addressOf(server: RegistryServer): string {
  const address = server.server.address();
  if (address === null || typeof address === 'string') return String(address);
  return `${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
}
