/**
 * Big-blob benchmark: one blob of deterministic bytes travels origin -> peer a
 * -> peer b through the swarm; b is killed with SIGKILL at about half and
 * restarted on its data directory, and must resume without fetching again
 * the pieces it had verified. Not part of the test command (it moves 2 x the
 * blob and needs 2 x the blob of free disk).
 *
 *   node bench/big/run.ts [--size-gb 20] [--kill-at 0.5] [--piece-size-mib N]
 *
 * The origin is bench/big/synthetic-origin.ts (it computes the bytes instead
 * of storing them: the registry would need a third copy on disk). Recorded:
 * each leg's time and MB/s, the ratio to the link ceiling measured in the
 * same run (raw TCP between two Node processes, receiver hashing and writing
 * 1 GiB: bench/link/baseline-transfer.ts), the peak RSS of both peers
 * (VmRSS of /proc sampled every 250 ms; b's before and after its restart),
 * and what b took in after the restart against what it had verified before
 * the kill. Digests: a peer ends a whole-blob answer cleanly only after the
 * blob's digest matched, and its task counter says so; the client counts bytes.
 * Progress goes to stderr, the JSON result to stdout.
 */

import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { request as httpGet } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pieceLayout } from '@shoal/protocol';
import { deterministicBytes } from '../../test/fixtures/images.ts';
import { verifiedPartialBytes } from '../../test/fixtures/partials.ts';
import { type RunningPeer, startPeer } from '../../test/fixtures/shoal.ts';
import { SWARM_ORIGIN, type Swarm, startSwarm, stopSwarm } from '../../test/fixtures/swarm.ts';
import { log, machineFacts } from '../common.ts';
import { baselineTransfer } from '../link/baseline.ts';
import { procStatusKiB, round } from '../measure.ts';
import { startSyntheticOrigin, syntheticDigest } from './synthetic-origin.ts';

const REPOSITORY = 'bench/big';
const SEED = 'bench/big';
const GIB = 1024 ** 3;
const TARGETS = { peakRssMB: 250, refetchedShare: 0.05 };
const RSS_INTERVAL_MS = 250;

const { values: args } = parseArgs({
  options: {
    'size-gb': { type: 'string', default: '20' },
    'kill-at': { type: 'string', default: '0.5' },
    'piece-size-mib': { type: 'string' },
  },
});
const SIZE = Math.round(Number(args['size-gb']) * 1e9);
const KILL_AT = Number(args['kill-at']);
const PIECE_SIZE_MIB = args['piece-size-mib'] ? Number(args['piece-size-mib']) : undefined;
if (!Number.isSafeInteger(SIZE) || SIZE < 1e6) throw new Error('--size-gb expects a size of at least 0.001');
if (!(KILL_AT > 0 && KILL_AT < 1)) throw new Error('--kill-at expects a fraction between 0 and 1');

/** Peak VmRSS (MB) of whichever process `pid()` names, sampled until stopped. */
function rssPeak(pid: () => number | undefined): { readonly peakMB: number; stop(): Promise<void> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const current = pid();
      if (current) peak = Math.max(peak, await procStatusKiB(current, 'VmRSS').catch(() => 0));
      await sleep(RSS_INTERVAL_MS);
    }
  })();
  return {
    get peakMB() {
      return round((peak * 1024) / 1e6, 1);
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** GETs the whole blob through a peer, counting bytes; resolves when it ends, is cut off, or `abort` fires. */
function getWhole(
  peer: RunningPeer,
  digest: string,
  abort?: AbortSignal,
): Promise<{ status: number; bytes: number; clean: boolean; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    let status = 0;
    let bytes = 0;
    const done = (clean: boolean) =>
      resolve({ status, bytes, clean, seconds: (performance.now() - started) / 1000 });
    const req = httpGet(`${peer.url}/v2/${REPOSITORY}/blobs/${digest}`, { signal: abort }, (res) => {
      status = res.statusCode ?? 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => done(bytes === Number(res.headers['content-length'])));
      res.on('error', () => done(false));
      res.on('aborted', () => done(false));
    });
    req.on('error', () => done(false));
    req.end();
  });
}

const takenIn = async (peer: RunningPeer) =>
  (await peer.metric('shoal_downloaded_bytes_total', { source: 'peer' })) +
  (await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' }));

/** The link ceiling of this run: raw TCP between two Node processes, receiver hashing and writing 1 GiB. */
async function ceilingMBps(work: string): Promise<number> {
  const file = join(work, 'ceiling.bin');
  await pipeline(deterministicBytes('bench/big/ceiling', GIB), createWriteStream(file));
  try {
    const result = await baselineTransfer('tcp', file, join(work, 'ceiling-received.bin'));
    return GIB / result.seconds / 1e6;
  } finally {
    await rm(file, { force: true });
    await rm(join(work, 'ceiling-received.bin'), { force: true });
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'shoal-bench-big-'));
  const disk = await statfs(work);
  const free = disk.bavail * disk.bsize;
  if (free < 2 * SIZE + 5e9) {
    throw new Error(
      `${(free / 1e9).toFixed(1)} GB free in ${tmpdir()}: two copies of ${SIZE / 1e9} GB need more`,
    );
  }
  const loadBefore = loadavg()[0]!;
  let swarm: Swarm | undefined;
  let origin: Awaited<ReturnType<typeof startSyntheticOrigin>> | undefined;
  let restarted: RunningPeer | undefined;
  const samplers: { stop(): Promise<void> }[] = [];
  try {
    log(`link ceiling (raw TCP, 1 GiB)`);
    const ceiling = await ceilingMBps(work);
    log(`computing the digest of ${SIZE / 1e9} GB`);
    const digestStarted = performance.now();
    const digest = await syntheticDigest(SEED, SIZE);
    const digestSeconds = (performance.now() - digestStarted) / 1000;
    origin = await startSyntheticOrigin({ repository: REPOSITORY, seed: SEED, size: SIZE, digest });
    const cacheGiB = Math.ceil((SIZE * 1.25) / GIB) + 1;
    swarm = await startSwarm({
      originHost: origin.host,
      count: 2,
      peerArgs: ['--cache-size', `${cacheGiB}GiB`, '--log-level', 'info'],
      schedulerArgs: () => [
        '--log-level',
        'info',
        ...(PIECE_SIZE_MIB ? ['--piece-size', `${PIECE_SIZE_MIB}MiB`] : []),
      ],
    });
    const [a, b] = swarm.peers as [RunningPeer, RunningPeer];
    // a's peak apart for each leg: downloading from the origin (and serving its client), then serving b.
    const rssA = rssPeak(() => a.daemon.pid);
    const rssB = rssPeak(() => b.daemon.pid);
    samplers.push(rssA, rssB);

    log('leg 1: origin -> a');
    const legA = await getWhole(a, digest);
    if (legA.status !== 200 || !legA.clean || legA.bytes !== SIZE)
      throw new Error(`a: ${JSON.stringify(legA)}\n${a.daemon.output.slice(-6000)}`);
    if ((await a.metric('shoal_tasks_total', { result: 'complete' })) < 1)
      throw new Error('a: no task completed');

    await rssA.stop();
    const rssAServing = rssPeak(() => a.daemon.pid);
    samplers.push(rssAServing);

    log('leg 2: a -> b, b killed part way');
    const stopClient = new AbortController();
    const firstTry = getWhole(b, digest, stopClient.signal);
    const legStarted = performance.now();
    let takenBeforeKill = await takenIn(b);
    while (takenBeforeKill < KILL_AT * SIZE) {
      await sleep(100);
      takenBeforeKill = await takenIn(b);
    }
    await b.kill();
    const secondsBeforeKill = (performance.now() - legStarted) / 1000;
    stopClient.abort();
    await firstTry;
    await rssB.stop();
    const verifiedAtKill = await verifiedPartialBytes(b.dataDir);

    log('leg 2: b restarted on its data directory');
    restarted = await startPeer({
      defaultRegistry: SWARM_ORIGIN,
      endpoints: { [SWARM_ORIGIN]: swarm.proxy.url },
      schedulers: swarm.scheduler.multiaddrs,
      dataDir: b.dataDir,
      extraArgs: ['--cache-size', `${cacheGiB}GiB`, '--log-level', 'info'],
    });
    const again = restarted;
    const rssB2 = rssPeak(() => again.daemon.pid);
    samplers.push(rssB2);
    const legB = await getWhole(again, digest);
    if (legB.status !== 200 || !legB.clean || legB.bytes !== SIZE)
      throw new Error(
        `b: ${JSON.stringify(legB)}\n${again.daemon.output.slice(-6000)}\n--- a ---\n${a.daemon.output.slice(-3000)}`,
      );
    const takenAfterRestart = await takenIn(again);
    const fromOriginB = await again.metric('shoal_downloaded_bytes_total', { source: 'origin' });
    await Promise.all(samplers.map((s) => s.stop()));
    const mbps = (bytes: number, seconds: number) => round(bytes / seconds / 1e6, 0);
    const refetched = Math.max(0, takenAfterRestart - (SIZE - verifiedAtKill));
    const result = {
      bench: 'big',
      command: `node bench/big/run.ts --size-gb ${SIZE / 1e9} --kill-at ${KILL_AT}${PIECE_SIZE_MIB ? ` --piece-size-mib ${PIECE_SIZE_MIB}` : ''}`,
      date: new Date().toISOString(),
      machine: machineFacts(loadBefore),
      blob: {
        bytes: SIZE,
        digest,
        pieceSize: pieceLayout(SIZE, PIECE_SIZE_MIB && PIECE_SIZE_MIB * 2 ** 20).pieceSize,
      },
      digestPrecomputeSeconds: round(digestSeconds, 1),
      ceilingMBps: round(ceiling, 0),
      legs: {
        originToA: { seconds: round(legA.seconds, 1), mbps: mbps(SIZE, legA.seconds) },
        aToB: {
          beforeKill: { seconds: round(secondsBeforeKill, 1), bytesTakenIn: takenBeforeKill },
          afterRestart: {
            seconds: round(legB.seconds, 1),
            bytesTakenIn: takenAfterRestart,
            fromOrigin: fromOriginB,
            mbps: mbps(takenAfterRestart, legB.seconds),
          },
        },
      },
      ratioToCeiling: {
        originToA: round(mbps(SIZE, legA.seconds) / ceiling, 2),
        aToBAfterRestart: round(mbps(takenAfterRestart, legB.seconds) / ceiling, 2),
      },
      resume: {
        verifiedOnDiskAtKill: verifiedAtKill,
        stillToFetch: SIZE - verifiedAtKill,
        takenInAfterRestart: takenAfterRestart,
        refetchedBytes: refetched,
      },
      peakRssMB: {
        aFromOrigin: rssA.peakMB,
        aServingB: rssAServing.peakMB,
        bBeforeKill: rssB.peakMB,
        bAfterRestart: rssB2.peakMB,
      },
      targets: TARGETS,
      pass: {
        rss: Math.max(rssA.peakMB, rssAServing.peakMB, rssB.peakMB, rssB2.peakMB) < TARGETS.peakRssMB,
        resume: refetched <= TARGETS.refetchedShare * SIZE && verifiedAtKill > 0,
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    // The peers' last log lines, for what the figures do not tell (why b took bytes from the origin).
    const logs = join('bench', 'out', `big-${Date.now()}`);
    await mkdir(logs, { recursive: true });
    await writeFile(join(logs, 'a.log'), a.daemon.output);
    await writeFile(join(logs, 'b-restarted.log'), again.daemon.output);
    await writeFile(join(logs, 'b-killed.log'), b.daemon.output);
    await writeFile(join(logs, 'scheduler.log'), swarm.scheduler.daemon.output);
    log(`peer logs in ${logs}`);
  } finally {
    await Promise.all(samplers.map((s) => s.stop()));
    const dirs = [restarted?.dataDir].filter((d): d is string => d !== undefined);
    await restarted?.stop();
    if (swarm) await stopSwarm(swarm);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await origin?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
