import { readFile } from 'node:fs/promises';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { PrivateKey } from '@libp2p/interface';
import { type KadDHT, kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { DHT_PROTOCOL_PREFIX } from '@shoal/protocol';
import { createLibp2p, type Libp2p } from 'libp2p';
import type { Registry } from 'prom-client';
import { registerConnectionCensus } from './connection-census.ts';
import { listConnectionsInOnePass } from './connection-listing.ts';
import { libp2pMetrics } from './libp2p-metrics.ts';
import { pskProtector } from './psk-protector.ts';
import { silentLogger } from './silent-logger.ts';
import { socketTls } from './socket-tls.ts';
import { decodeSwarmKey } from './swarm-key.ts';

export interface ShoalNodeOptions {
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. /ip4/0.0.0.0/tcp/4001 */
  listen: string[];
  /** Path of a libp2p swarm.key: nodes without the same key can neither dial nor be dialled. */
  pskFile?: string;
  /** Run kad-dht in server mode (peers); schedulers do not need it. */
  dht?: boolean;
  /** Drop private addresses from DHT records (only for swarms spanning the public internet). */
  dhtPublicOnly?: boolean;
  /** Inbound streams allowed per protocol per connection. */
  maxInboundStreams?: number;
  /** The service's metrics registry: libp2p's own metrics (connections, streams, bytes, dials) join it. */
  metricsRegistry?: Registry;
  /** Connections kept open at most (default 1024): a scheduler holds one per peer of its cluster. */
  maxConnections?: number;
  /**
   * How often this node pings every connection to check it is alive (default 10 s, libp2p's);
   * 0 sends no pings at all. A connection silent for 2 minutes ends anyway (TCP inactivity).
   */
  pingIntervalMs?: number;
  /**
   * A connection whose liveness ping is not answered within this long is dropped
   * (default: libp2p's, at least 5 s). A busy node answers late although the other end is alive.
   */
  pingTimeoutMs?: number;
  /**
   * yamux window per stream, which also bounds what a stream buffers unread (default 4 MiB, for
   * piece transfers). A node exchanging only small messages with many peers wants the 256 KiB minimum.
   */
  streamWindow?: number;
}

export type ShoalNode = Libp2p<{ identify: unknown; dht?: KadDHT }>;

/** yamux window: large enough that one stream can fill a fast link without waiting for window updates. */
const STREAM_WINDOW = 4 * 1024 * 1024;

/**
 * The libp2p node both services use: TCP, TLS 1.3 preferred (native crypto,
 * about twice Noise's throughput here) with Noise also offered, yamux,
 * identify, optional pnet, optional kad-dht under shoal's prefix.
 */
export async function createShoalNode(options: ShoalNodeOptions): Promise<ShoalNode> {
  const window = options.streamWindow ?? STREAM_WINDOW;
  const services: Record<string, unknown> = { identify: identify() };
  if (options.dht) {
    // kad-dht checks peers' liveness with ping.
    services.ping = ping();
    services.dht = kadDHT({
      protocol: `${DHT_PROTOCOL_PREFIX}/kad/1.0.0`,
      clientMode: false,
      // Cluster nodes talk over private addresses, so those are kept by default.
      peerInfoMapper: options.dhtPublicOnly ? removePrivateAddressesMapper : passthroughMapper,
    });
  }
  const node = await createLibp2p({
    privateKey: options.privateKey,
    // libp2p's debug log (DEBUG=libp2p:*) as usual; without it, loggers that cost nothing.
    ...(process.env.DEBUG ? {} : { logger: silentLogger }),
    addresses: { listen: options.listen },
    transports: [tcp()],
    connectionEncrypters: [socketTls(), noise()],
    streamMuxers: [
      yamux({
        maxInboundStreams: options.maxInboundStreams ?? 256,
        maxMessageSize: 256 * 1024,
        streamOptions: {
          initialStreamWindowSize: window,
          maxStreamWindowSize: window,
          // Above the window, or a paused reader has its stream reset.
          maxReadBufferLength: 2 * window,
        },
      }),
    ],
    ...(options.pskFile
      ? {
          connectionProtector: pskProtector(
            decodeSwarmKey(await readFile(options.pskFile), `swarm key file ${options.pskFile}`),
          ),
        }
      : {}),
    connectionManager: { maxConnections: options.maxConnections ?? 1024 },
    connectionMonitor: {
      enabled: options.pingIntervalMs !== 0,
      ...(options.pingIntervalMs ? { pingInterval: options.pingIntervalMs } : {}),
      ...(options.pingTimeoutMs
        ? { pingTimeout: { minTimeout: options.pingTimeoutMs, maxTimeout: options.pingTimeoutMs } }
        : {}),
    },
    ...(options.metricsRegistry ? { metrics: libp2pMetrics(options.metricsRegistry) } : {}),
    services: services as never,
  });
  listConnectionsInOnePass(node);
  if (options.metricsRegistry) registerConnectionCensus(node, options.metricsRegistry);
  return node as unknown as ShoalNode;
}
