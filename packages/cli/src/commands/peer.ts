import type { ComponentWrappers, PeerDaemon } from '@shoal/peer';
import {
  MAX_PIECE_SIZE,
  MIB,
  MIN_PIECE_SIZE,
  PIECE_TIMEOUT_MS,
  SWARM_STALL_TIMEOUT_MS,
} from '@shoal/protocol';
import { createLogger, type Logger } from '@shoal/telemetry';
import type { Command } from 'commander';
import { z } from 'zod';
import { flagOf, type OptionSpec, resolveConfigWithSources } from '../config.ts';
import { DOCKER_CONFIG_DEFAULT_TEXT, upstreamCredentials } from '../docker-config.ts';
import {
  booleanFlag,
  duration,
  hostPort,
  labelFile,
  labels,
  logLevel,
  multiaddrList,
  registryEndpoints,
  registryOrNone,
  size,
  swarmKeyFile,
} from '../options.ts';
import { addOptions, configPath, runUntilSignal } from '../run.ts';

/** Default --max-piece-size: room for a scheduler's --piece-size up to 16 MiB. */
const DEFAULT_MAX_PIECE_SIZE = 16 * MIB;
const DEFAULT_SEND_BUFFER = 64 * MIB;
/** Below this a send buffer keeps too few pages for the senders it must guarantee one. */
const MIN_SEND_BUFFER = 4 * MIB;

export const peerOptions: readonly OptionSpec[] = [
  {
    key: 'registry',
    arg: '<host:port>',
    description: 'address of the registry endpoint containerd, Docker and skopeo pull from',
    default: '127.0.0.1:5050',
  },
  {
    key: 'http',
    arg: '<host:port>',
    description:
      'address of the admin endpoint (/healthz, /readyz, /metrics, /api/v1/info, /api/v1/pulls; the pulls page at /)',
    default: '127.0.0.1:9090',
  },
  {
    key: 'dataDir',
    arg: '<dir>',
    description: 'directory for blobs, partial downloads and manifests',
    default: '/var/lib/shoal',
  },
  {
    key: 'registryEndpoint',
    arg: '<name=url>',
    description: 'where a registry lives, e.g. localhost:5000=http://127.0.0.1:5000 (repeatable)',
    repeatable: true,
    pairs: true,
    default: {},
  },
  {
    key: 'defaultRegistry',
    arg: '<name>',
    description:
      'registry for requests that name none (Docker registry-mirrors: docker.io); none: refuse them with 404',
    default: 'docker.io',
  },
  {
    key: 'cacheSize',
    arg: '<size>',
    description: 'disk space for cached blobs, e.g. 20GiB; least recently used blobs are evicted',
    default: 20 * 2 ** 30,
    unit: 'bytes',
  },
  {
    key: 'scrubRate',
    arg: '<size/s>',
    description: 'bytes per second the background scrub re-hashes cached blobs at, e.g. 8MiB; 0 = no scrub',
    default: 8 * MIB,
    unit: 'bytes',
  },
  {
    key: 'dockerConfig',
    arg: '<file>',
    description: 'docker config.json with upstream credentials',
    defaultText: DOCKER_CONFIG_DEFAULT_TEXT,
  },
  {
    key: 'listen',
    arg: '<multiaddr>',
    description: 'libp2p address other peers fetch pieces from (repeatable)',
    repeatable: true,
    default: ['/ip4/0.0.0.0/tcp/4601'],
  },
  {
    key: 'scheduler',
    arg: '<multiaddr>',
    description: 'scheduler to join, with or without /p2p/<id> (repeatable); none: plain mirror',
    repeatable: true,
    default: [],
  },
  {
    key: 'label',
    arg: '<key=value>',
    description: 'locality label such as zone=eu-1a or rack=r12 (repeatable)',
    repeatable: true,
    pairs: true,
    default: {},
  },
  {
    key: 'labelFile',
    arg: '<file>',
    description:
      "more locality labels, one key=value a line (the Helm chart writes the node's zone there); --label wins",
  },
  { key: 'uploadSlots', arg: '<n>', description: 'pieces served to other peers at once', default: 8 },
  {
    key: 'downloadSlots',
    arg: '<n>',
    description: 'pieces of one blob fetched from other peers at once',
    default: 6,
  },
  {
    key: 'downloadRate',
    arg: '<size/s>',
    description: 'cap on bytes per second taken in (origin and peers), e.g. 100MB; 0 = none',
    default: 0,
    unit: 'bytes',
  },
  {
    key: 'uploadRate',
    arg: '<size/s>',
    description: 'cap on bytes per second served to peers, e.g. 100MB; 0 = none',
    default: 0,
    unit: 'bytes',
  },
  {
    key: 'maxPieceSize',
    arg: '<size>',
    description:
      "largest piece served to other peers, larger asks refused (the scheduler's --piece-size at least)",
    default: DEFAULT_MAX_PIECE_SIZE,
    unit: 'bytes',
  },
  {
    key: 'sendBuffer',
    arg: '<size>',
    description: 'memory for answers on their way to clients and peers, shared by all of them',
    default: DEFAULT_SEND_BUFFER,
    unit: 'bytes',
  },
  {
    key: 'readerTimeout',
    arg: '<duration>',
    description: 'a client or peer that takes none of its answer for this long is dropped',
    default: 60_000,
    unit: 'ms',
  },
  {
    key: 'maxRequests',
    arg: '<n>',
    description: 'HTTP requests in flight from all clients together (one client: 256); more are answered 503',
    default: 1024,
  },
  {
    key: 'pskFile',
    arg: '<file>',
    description: 'libp2p swarm.key: only nodes with the same key can connect',
  },
  {
    key: 'staleTags',
    arg: '<bool>',
    description: 'while upstream is unreachable, answer tags from its last answer (marked x-shoal-stale-tag)',
    default: true,
  },
  {
    key: 'upstreamTimeout',
    arg: '<duration>',
    description: 'longest wait for an upstream answer, retries and token requests included; then 502',
    default: 20_000,
    unit: 'ms',
  },
  {
    key: 'originStallTimeout',
    arg: '<duration>',
    description:
      'a blob transfer from the origin sending under 64 KiB in this long is given up (its range goes to another peer)',
    default: 30_000,
    unit: 'ms',
  },
  {
    key: 'logLevel',
    arg: '<level>',
    description: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
  },
];

/** The options' values, checked and parsed; their defaults are the specs' (peerOptions). */
export const peerSchema = z.strictObject({
  registry: hostPort,
  http: hostPort,
  dataDir: z.string().min(1),
  registryEndpoint: registryEndpoints,
  defaultRegistry: registryOrNone.transform((v) => (v === 'none' ? undefined : v)),
  cacheSize: size,
  scrubRate: size,
  dockerConfig: z.string().optional(),
  listen: multiaddrList,
  scheduler: multiaddrList,
  label: labels,
  labelFile: labelFile.optional(),
  uploadSlots: z.coerce.number().int().min(1).max(1024),
  downloadSlots: z.coerce.number().int().min(1).max(1024),
  downloadRate: size,
  uploadRate: size,
  maxPieceSize: size.refine((v) => v >= MIN_PIECE_SIZE && v <= MAX_PIECE_SIZE, 'expected 1MiB to 64MiB'),
  sendBuffer: size.refine((v) => v >= MIN_SEND_BUFFER, `expected at least ${MIN_SEND_BUFFER / MIB}MiB`),
  readerTimeout: duration.refine((v) => v >= 1000, 'expected at least 1s'),
  maxRequests: z.coerce.number().int().min(1).max(65_536),
  pskFile: swarmKeyFile.optional(),
  staleTags: booleanFlag,
  upstreamTimeout: duration,
  originStallTimeout: duration,
  logLevel: logLevel,
});

export type PeerConfig = z.output<typeof peerSchema>;

/** `wrappers` wrap parts of the daemon, for a program that embeds the command (none by default). */
export function registerPeerCommand(program: Command, wrappers: ComponentWrappers = {}): void {
  const command = program
    .command('peer')
    .description('run the peer daemon: a node-local, verified pull-through registry mirror')
    .addHelpText(
      'after',
      `
Examples:
  shoal peer --registry 127.0.0.1:5050 --data-dir /var/lib/shoal --default-registry docker.io
  shoal peer --registry-endpoint localhost:5000=http://127.0.0.1:5000 --cache-size 50GiB
  shoal peer --scheduler /dns4/shoal-scheduler.shoal.svc.cluster.local/tcp/4600 --label zone=eu-1a
  SHOAL_CACHE_SIZE=10GiB shoal peer --config /etc/shoal/peer.yaml
Then point clients at it, each naming the registry it wants (--default-registry only answers
requests that name none: Docker's registry-mirrors, Docker Hub only):
  shoal containerd-config --registry docker.io --registry quay.io --endpoint http://127.0.0.1:5050
  shoal registries-config --registry docker.io --registry quay.io --endpoint http://127.0.0.1:5050`,
    );
  addOptions(command, peerOptions);
  command.action(async (flags: Record<string, unknown>) => {
    const { config, sources } = resolveConfigWithSources(
      peerSchema,
      peerOptions,
      flags,
      process.env,
      configPath(flags),
    );
    const logger = createLogger({ level: config.logLevel, name: 'shoal-peer' });
    for (const warning of swarmOnlyOptionsIgnored(config, sources)) logger.warn(warning);
    const daemon = await launchPeer(config, logger, wrappers);
    await runUntilSignal(logger, () => daemon.stop());
  });
}

/** Options that only a peer in a swarm uses, set for a peer that joins no scheduler. */
export function swarmOnlyOptionsIgnored(config: PeerConfig, sources: Record<string, string>): string[] {
  if (config.scheduler.length > 0) return [];
  return ['listen', 'pskFile', 'label', 'labelFile', 'uploadSlots', 'downloadSlots', 'uploadRate']
    .filter((key) => sources[key] !== undefined)
    .map((key) => {
      const flag = flagOf(peerOptions.find((spec) => spec.key === key)!);
      return `${flag} (${sources[key]}) has no effect: without --scheduler this peer is a plain mirror and runs no libp2p node`;
    });
}

/** Starts a peer daemon from a resolved configuration (`shoal peer`, `shoal all-in-one`). */
export async function launchPeer(
  config: PeerConfig,
  logger: Logger,
  wrappers: ComponentWrappers = {},
): Promise<PeerDaemon> {
  // Loaded here, not at the top: libp2p takes a second to load, which --help and other commands skip.
  const { startPeerDaemon } = await import('@shoal/peer');
  const credentials = await upstreamCredentials(config.dockerConfig);
  return startPeerDaemon(
    {
      registry: config.registry,
      http: config.http,
      dataDir: config.dataDir,
      registryEndpoints: config.registryEndpoint,
      defaultRegistry: config.defaultRegistry,
      cacheSize: config.cacheSize,
      scrubRate: config.scrubRate,
      serveStaleTags: config.staleTags,
      upstreamTimeoutMs: config.upstreamTimeout,
      originStallTimeoutMs: config.originStallTimeout,
      sending: { bufferBytes: config.sendBuffer, readerTimeoutMs: config.readerTimeout },
      maxRequests: config.maxRequests,
      swarm: {
        listen: config.listen,
        schedulers: config.scheduler,
        labels: { ...config.labelFile, ...config.label },
        uploadSlots: config.uploadSlots,
        downloadSlots: config.downloadSlots,
        downloadRate: config.downloadRate,
        uploadRate: config.uploadRate,
        pieceTimeoutMs: PIECE_TIMEOUT_MS,
        stallTimeoutMs: SWARM_STALL_TIMEOUT_MS,
        maxPieceSize: config.maxPieceSize,
        ...(config.pskFile ? { pskFile: config.pskFile } : {}),
      },
      ...(credentials ? { credentials } : {}),
    },
    logger,
    wrappers,
  );
}
