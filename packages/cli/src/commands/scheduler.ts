import { MAX_PIECE_SIZE, MIN_PIECE_SIZE } from '@shoal/protocol';
import type { RunningScheduler } from '@shoal/scheduler';
import { createLogger, type Logger } from '@shoal/telemetry';
import type { Command } from 'commander';
import { z } from 'zod';
import { type OptionSpec, resolveConfig } from '../config.ts';
import { DOCKER_CONFIG_DEFAULT_TEXT, upstreamCredentials } from '../docker-config.ts';
import {
  booleanFlag,
  hostPort,
  logLevel,
  multiaddrList,
  registryEndpoints,
  size,
  swarmKeyFile,
} from '../options.ts';
import { addOptions, configPath, runUntilSignal } from '../run.ts';

export const schedulerOptions: readonly OptionSpec[] = [
  {
    key: 'listen',
    arg: '<multiaddr>',
    description: 'libp2p address peers connect to (repeatable)',
    repeatable: true,
    default: ['/ip4/0.0.0.0/tcp/4600'],
  },
  {
    key: 'http',
    arg: '<host:port>',
    description:
      'address of the admin endpoint (/healthz, /readyz, /metrics, /api/v1/*; the swarm page at /)',
    default: '127.0.0.1:9600',
  },
  {
    key: 'dataDir',
    arg: '<dir>',
    description: 'directory for the scheduler identity',
    default: '/var/lib/shoal-scheduler',
  },
  {
    key: 'pskFile',
    arg: '<file>',
    description: 'libp2p swarm.key: only nodes with the same key can connect',
  },
  {
    key: 'originRangePieces',
    arg: '<n>',
    description: 'the most pieces in one back-to-source range',
    default: 4,
  },
  {
    key: 'firstOriginRangePieces',
    arg: '<n>',
    description:
      "the most pieces in a peer's first back-to-source range of a blob; each next may hold twice as many, up to --origin-range-pieces",
    default: 1,
  },
  {
    key: 'originFetchers',
    arg: '<n>',
    description:
      'the most peers fetching one blob from the origin at once (more only share its bandwidth, and every piece reaches the swarm later)',
    default: 8,
  },
  {
    key: 'leasePieces',
    arg: '<n>',
    description:
      'the most pieces in one assignment (a lease: pieces a peer takes from one parent one after another, on one upload slot); more means fewer scheduler decisions and messages per piece; 1 is one decision per piece',
    default: 4,
  },
  {
    key: 'pendingPieces',
    arg: '<bool>',
    description:
      "a lease its parent's pieces leave short also takes the piece on its way to that parent, which the parent sends as it lands (cluster simulator: a third fewer scheduler messages at 10 GbE, a 2-4% longer tail where upload slots are scarce)",
    default: false,
  },
  {
    key: 'leaseMinPeers',
    arg: '<n>',
    description:
      'peers a blob needs (holding or fetching it) before its assignments become leases; below it, one piece per assignment',
    default: 256,
  },
  {
    key: 'pieceSize',
    arg: '<size>',
    description: 'fixed piece size for new tasks (1MiB to 64MiB); 0 = 2MiB, doubled for very large blobs',
    default: 0,
    unit: 'bytes',
  },
  {
    key: 'registryEndpoint',
    arg: '<name=url>',
    description:
      'where a registry lives, for resolving images to preheat, e.g. localhost:5000=http://127.0.0.1:5000 (repeatable)',
    repeatable: true,
    pairs: true,
    default: {},
  },
  {
    key: 'dockerConfig',
    arg: '<file>',
    description: 'docker config.json with upstream credentials, for resolving images to preheat',
    defaultText: DOCKER_CONFIG_DEFAULT_TEXT,
  },
  {
    key: 'preheatSeeds',
    arg: '<n>',
    description: 'peers a preheat with scope "seed" asks to fetch the image, spread over zones',
    default: 2,
  },
  {
    key: 'logLevel',
    arg: '<level>',
    description: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
  },
];

/** The options' values, checked and parsed; their defaults are the specs' (schedulerOptions). */
export const schedulerSchema = z.strictObject({
  listen: multiaddrList,
  http: hostPort,
  dataDir: z.string().min(1),
  pskFile: swarmKeyFile.optional(),
  originRangePieces: z.coerce.number().int().min(1).max(1024),
  firstOriginRangePieces: z.coerce.number().int().min(1).max(1024),
  originFetchers: z.coerce.number().int().min(1).max(100_000),
  leasePieces: z.coerce.number().int().min(1).max(1024),
  pendingPieces: booleanFlag,
  leaseMinPeers: z.coerce.number().int().min(1).max(1_000_000),
  pieceSize: size.refine(
    (v) => v === 0 || (v >= MIN_PIECE_SIZE && v <= MAX_PIECE_SIZE),
    'expected 0 or 1MiB to 64MiB',
  ),
  registryEndpoint: registryEndpoints,
  dockerConfig: z.string().optional(),
  preheatSeeds: z.coerce.number().int().min(1).max(1024),
  logLevel: logLevel,
});

export function registerSchedulerCommand(program: Command): void {
  const command = program
    .command('scheduler')
    .description('run a scheduler: tracks which peer holds which pieces and hands out piece assignments')
    .addHelpText(
      'after',
      `
Examples:
  shoal scheduler --listen /ip4/0.0.0.0/tcp/4600 --http 0.0.0.0:9600 --data-dir /var/lib/shoal-scheduler
  shoal scheduler --psk-file /etc/shoal/swarm.key
  shoal scheduler --registry-endpoint registry.internal:5000=http://10.0.0.5:5000 --preheat-seeds 3
Peers then use: shoal peer --scheduler /dns4/<scheduler-host>/tcp/4600`,
    );
  addOptions(command, schedulerOptions);
  command.action(async (flags: Record<string, unknown>) => {
    const config = resolveConfig(schedulerSchema, schedulerOptions, flags, process.env, configPath(flags));
    const logger = createLogger({ level: config.logLevel, name: 'shoal-scheduler' });
    const scheduler = await launchScheduler(config, logger);
    await runUntilSignal(logger, () => scheduler.stop());
  });
}

export type SchedulerSettings = z.output<typeof schedulerSchema>;

/** Starts a scheduler from a resolved configuration (`shoal scheduler`, `shoal all-in-one`). */
export async function launchScheduler(config: SchedulerSettings, logger: Logger): Promise<RunningScheduler> {
  // Loaded here, not at the top: libp2p takes a second to load, which --help and other commands skip.
  const { startScheduler } = await import('@shoal/scheduler');
  const credentials = await upstreamCredentials(config.dockerConfig);
  return startScheduler(
    {
      listen: config.listen,
      http: config.http,
      dataDir: config.dataDir,
      originRangePieces: config.originRangePieces,
      firstOriginRangePieces: config.firstOriginRangePieces,
      originFetchers: config.originFetchers,
      leasePieces: config.leasePieces,
      leaseMinPeers: config.leaseMinPeers,
      pendingPieces: config.pendingPieces,
      pieceSize: config.pieceSize,
      registryEndpoints: config.registryEndpoint,
      preheatSeeds: config.preheatSeeds,
      ...(credentials ? { credentials } : {}),
      ...(config.pskFile ? { pskFile: config.pskFile } : {}),
    },
    logger,
  );
}
