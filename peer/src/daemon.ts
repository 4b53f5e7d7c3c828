import { type Credentials, RegistryClient } from '@shoal/oci';
import { type AdminServer, createMetricsRegistry, type Logger, startAdminServer } from '@shoal/telemetry';
import type { EndpointContext } from './endpoint/context.ts';
import { type RegistryServer, startRegistryServer } from './endpoint/registry-server.ts';
import { UpstreamResolver } from './endpoint/upstreams.ts';
import { createPeerMetrics } from './metrics.ts';
import { BlobStore } from './store/blob-store.ts';
import { ManifestCache } from './store/manifest-cache.ts';
import { StorePaths } from './store/paths.ts';
import { TaskManager } from './task/task-manager.ts';

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
}

export interface PeerDaemon {
  readonly registryAddress: string;
  readonly adminAddress: string;
  readonly context: EndpointContext;
  stop(): Promise<void>;
}

/** Wires store, tasks, upstream client, endpoint and admin server into one running peer. */
export async function startPeerDaemon(config: PeerDaemonConfig, logger: Logger): Promise<PeerDaemon> {
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
    onEvict: (_digest, size) => {
      metrics.evictions.inc();
      metrics.evictedBytes.inc(size);
    },
  });
  await store.init();
  const tasks = new TaskManager({
    store,
    logger,
    onOriginBytes: (bytes) => metrics.downloadedBytes.inc({ source: 'origin' }, bytes),
    onTaskEnd: (result) => metrics.tasks.inc({ result }),
  });
  const client = new RegistryClient(config.credentials ? { credentials: config.credentials } : {});
  const context: EndpointContext = {
    store,
    manifests: new ManifestCache(paths),
    tasks,
    client,
    upstreams: new UpstreamResolver({
      endpoints: config.registryEndpoints,
      defaultRegistry: config.defaultRegistry,
    }),
    metrics,
    logger,
  };
  let registryServer: RegistryServer | undefined;
  let admin: AdminServer | undefined;
  try {
    registryServer = await startRegistryServer(context, config.registry);
    const registryAddress = addressOf(registryServer);
    admin = await startAdminServer({
      listen: config.http,
      metrics: metricsRegistry,
      info: () => ({
        registry: registryAddress,
        dataDir: config.dataDir,
        defaultRegistry: config.defaultRegistry,
      }),
      notReadyReason: () => null,
    });
    logger.info({ registry: registryAddress, admin: admin.address }, 'peer daemon ready');
    const started = { registryServer, admin };
    return {
      registryAddress,
      adminAddress: admin.address,
      context,
      async stop() {
        await started.registryServer.close();
        await tasks.shutdown();
        await started.admin.close();
        await client.close();
      },
    };
  } catch (error) {
    await registryServer?.close();
    await admin?.close();
    await client.close();
    throw error;
  }
}

function addressOf(server: RegistryServer): string {
  const address = server.server.address();
  if (address === null || typeof address === 'string') return String(address);
  return `${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
}
