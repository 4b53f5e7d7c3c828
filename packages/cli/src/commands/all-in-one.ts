import { join } from 'node:path';
import { createLogger, type Logger } from '@shoal/telemetry';
import type { Command } from 'commander';
import type { z } from 'zod';
import { type OptionSpec, resolveConfig } from '../config.ts';
import { hostPort, multiaddrList } from '../options.ts';
import { addOptions, configPath, runUntilSignal } from '../run.ts';
import { launchPeer, peerOptions, peerSchema } from './peer.ts';
import { launchScheduler, schedulerOptions, schedulerSchema } from './scheduler.ts';

/** One of a command's option specs, with changes for all-in-one. */
function option(specs: readonly OptionSpec[], key: string, changes: Partial<OptionSpec> = {}): OptionSpec {
  const spec = specs.find((s) => s.key === key);
  if (!spec) throw new Error(`no option "${key}"`);
  return { ...spec, ...changes };
}

/** The peer's options without --scheduler (it joins its own), and the scheduler's that are its own. */
export const allInOneOptions: readonly OptionSpec[] = [
  option(peerOptions, 'registry'),
  option(peerOptions, 'http', {
    description:
      "address of the peer's admin endpoint (/healthz, /readyz, /metrics, /api/v1/*; the pulls page at /)",
  }),
  option(schedulerOptions, 'http', {
    key: 'schedulerHttp',
    description:
      "address of the scheduler's admin endpoint (/healthz, /readyz, /metrics, /api/v1/*; the swarm page at /)",
  }),
  option(peerOptions, 'dataDir', {
    description:
      'directory for both: the peer in <dir>/peer (blobs, manifests), the scheduler in <dir>/scheduler',
  }),
  option(peerOptions, 'registryEndpoint'),
  option(peerOptions, 'defaultRegistry'),
  option(peerOptions, 'cacheSize'),
  option(peerOptions, 'scrubRate'),
  option(peerOptions, 'dockerConfig', {
    description: "docker config.json with upstream credentials (the peer's pulls, the scheduler's preheats)",
  }),
  option(peerOptions, 'listen', { default: ['/ip4/127.0.0.1/tcp/4601'] }),
  option(schedulerOptions, 'listen', {
    key: 'schedulerListen',
    description:
      'libp2p address of the scheduler; the peer joins it there, peers on other machines may too (repeatable)',
    default: ['/ip4/127.0.0.1/tcp/4600'],
  }),
  option(peerOptions, 'label'),
  option(peerOptions, 'labelFile'),
  option(peerOptions, 'uploadSlots'),
  option(peerOptions, 'downloadSlots'),
  option(peerOptions, 'downloadRate'),
  option(peerOptions, 'uploadRate'),
  option(peerOptions, 'maxPieceSize', {
    description: 'largest piece served to other peers (at least --piece-size)',
  }),
  option(peerOptions, 'sendBuffer'),
  option(peerOptions, 'readerTimeout'),
  option(peerOptions, 'maxRequests'),
  option(peerOptions, 'pskFile', {
    description: 'libp2p swarm.key for both: only nodes with the same key can connect',
  }),
  option(peerOptions, 'staleTags'),
  option(peerOptions, 'upstreamTimeout'),
  option(peerOptions, 'originStallTimeout'),
  option(schedulerOptions, 'originRangePieces'),
  option(schedulerOptions, 'firstOriginRangePieces'),
  option(schedulerOptions, 'originFetchers'),
  option(schedulerOptions, 'leasePieces'),
  option(schedulerOptions, 'pendingPieces'),
  option(schedulerOptions, 'leaseMinPeers'),
  option(schedulerOptions, 'pieceSize'),
  option(schedulerOptions, 'preheatSeeds'),
  option(peerOptions, 'logLevel'),
];

/** The options' values, checked and parsed; their defaults are the specs' (allInOneOptions). */
export const allInOneSchema = peerSchema.omit({ scheduler: true }).extend({
  schedulerListen: multiaddrList,
  schedulerHttp: hostPort,
  originRangePieces: schedulerSchema.shape.originRangePieces,
  firstOriginRangePieces: schedulerSchema.shape.firstOriginRangePieces,
  originFetchers: schedulerSchema.shape.originFetchers,
  leasePieces: schedulerSchema.shape.leasePieces,
  pendingPieces: schedulerSchema.shape.pendingPieces,
  leaseMinPeers: schedulerSchema.shape.leaseMinPeers,
  pieceSize: schedulerSchema.shape.pieceSize,
  preheatSeeds: schedulerSchema.shape.preheatSeeds,
});

type AllInOneConfig = z.output<typeof allInOneSchema>;

/** The address the peer joins its scheduler at: a loopback one when the scheduler listens there too. */
export function localSchedulerAddress(multiaddrs: readonly string[]): string | undefined {
  return (
    multiaddrs.find((ma) => ma.startsWith('/ip4/127.')) ??
    multiaddrs.find((ma) => ma.startsWith('/ip6/::1/')) ??
    multiaddrs[0]
  );
}

export function registerAllInOneCommand(program: Command): void {
  const command = program
    .command('all-in-one')
    .description('run a scheduler and a peer in one process: the whole system on a single machine')
    .addHelpText(
      'after',
      `
Examples:
  shoal all-in-one --default-registry docker.io --data-dir /var/lib/shoal
  shoal all-in-one --registry-endpoint localhost:5000=http://127.0.0.1:5000 --default-registry localhost:5000
  shoal all-in-one --registry 127.0.0.1:5050 --http 127.0.0.1:9090 --scheduler-http 127.0.0.1:9600
The endpoint is then a registry mirror on 127.0.0.1:5050, e.g. for containerd:
  shoal containerd-config --registry docker.io --endpoint http://127.0.0.1:5050
Peers on other machines can join its scheduler when it listens on their network:
  shoal all-in-one --scheduler-listen /ip4/0.0.0.0/tcp/4600 --listen /ip4/0.0.0.0/tcp/4601`,
    );
  addOptions(command, allInOneOptions);
  command.action(async (flags: Record<string, unknown>) => {
    const config = resolveConfig(allInOneSchema, allInOneOptions, flags, process.env, configPath(flags));
    const logger = createLogger({ level: config.logLevel, name: 'shoal-all-in-one' });
    const { scheduler, peer } = await launchBoth(config, logger);
    await runUntilSignal(logger, async () => {
      await peer.stop();
      await scheduler.stop();
    });
  });
}

/** The scheduler first, then the peer joining it; a peer that cannot start takes the scheduler down with it. */
async function launchBoth(config: AllInOneConfig, logger: Logger) {
  const scheduler = await launchScheduler(
    {
      ...config,
      listen: config.schedulerListen,
      http: config.schedulerHttp,
      dataDir: join(config.dataDir, 'scheduler'),
    },
    logger.child({ service: 'scheduler' }),
  );
  try {
    const address = localSchedulerAddress(scheduler.multiaddrs);
    if (!address) throw new Error('the scheduler listens on no address the peer can join');
    const peer = await launchPeer(
      {
        ...config,
        dataDir: join(config.dataDir, 'peer'),
        scheduler: [address],
        // Its own scheduler's pieces are always served.
        maxPieceSize: Math.max(config.maxPieceSize, config.pieceSize),
      },
      logger.child({ service: 'peer' }),
    );
    return { scheduler, peer };
  } catch (error) {
    await scheduler.stop();
    throw error;
  }
}
