/**
 * Lazy-pull benchmark: a Range of a cold blob through the endpoint against the
 * same Range asked of the origin directly, in one run, medians of several runs.
 *
 *   node bench/lazy/run.ts [--runs 3] [--size-mib 1024] [--offset-mib 900] [--range-mib 1]
 *
 * range   time to the last byte of the range: direct from the origin (capped at
 *         100 MB/s, nothing else running) vs through a peer whose store is
 *         empty (its whole-blob download starts with the request and runs
 *         behind the range). Two pairs: each read on a new connection, through
 *         a peer process started for it; and each read on a connection the
 *         client keeps open, as a snapshotter does, after a read of another
 *         blob (so a peer is a running daemon: its code compiled, its registry
 *         connection open). Target: endpoint <= 2 x direct, for the second.
 * whole   a whole-blob GET of a cold blob through a fresh peer, alone vs with
 *         the same range asked 2 s into it. Target: slowed by <= 5%.
 *
 * The Range client is test/fixtures/range-client.ts (one request per read, as
 * a snapshotter's chunk fetch); the whole-blob client hashes what it gets.
 * Progress goes to stderr, the JSON result to stdout.
 */

import { Agent } from 'node:http';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pushBlob, rawBlob, removeFixtureCache } from '../../test/fixtures/images.ts';
import { readRange } from '../../test/fixtures/range-client.ts';
import { type RunningRegistry, startRegistry } from '../../test/fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../../test/fixtures/shoal.ts';
import { streamGet } from '../../test/fixtures/stream-get.ts';
import { startTcpProxy, type TcpProxy } from '../../test/fixtures/tcp-proxy.ts';
import { log, machineFacts, positiveInt } from '../common.ts';
import { figure, median, round } from '../measure.ts';

const REPOSITORY = 'bench/lazy';
const ORIGIN_CAP_BYTES_PER_SECOND = 100e6;
const MIB = 1024 * 1024;
const TARGETS = { rangeTimeRatio: 2, wholeSlowdown: 0.05 };
const RANGE_AFTER_MS = 2_000;
const WARM_UP_BYTES = 4 * MIB;
/** Small: the origin's token bucket is full again when the measured read starts. */
const WARM_UP_READ = 4096;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
    'offset-mib': { type: 'string', default: '900' },
    'range-mib': { type: 'string', default: '1' },
  },
});
const RUNS = positiveInt(args.runs, '--runs');
const SIZE = positiveInt(args['size-mib'], '--size-mib') * MIB;
const OFFSET = positiveInt(args['offset-mib'], '--offset-mib') * MIB;
const LENGTH = positiveInt(args['range-mib'], '--range-mib') * MIB;
if (OFFSET + LENGTH > SIZE) throw new Error('--offset-mib + --range-mib must lie inside --size-mib');

async function main(): Promise<void> {
  let registry: RunningRegistry | undefined;
  let proxy: TcpProxy | undefined;
  let peer: RunningPeer | undefined;
  const loadBefore = loadavg()[0]!;
  try {
    log(`writing and pushing a ${SIZE / MIB} MiB blob`);
    const blob = await rawBlob('bench/lazy', SIZE);
    const warmUp = await rawBlob('bench/lazy-warm-up', WARM_UP_BYTES);
    registry = await startRegistry();
    await pushBlob(registry.url, REPOSITORY, blob, { timeoutMs: 600_000 });
    await pushBlob(registry.url, REPOSITORY, warmUp);
    proxy = await startTcpProxy({ target: registry.host, rateBytesPerSecond: ORIGIN_CAP_BYTES_PER_SECOND });
    const origin = proxy;
    const registryName = registry.host;
    const fresh = async () => {
      peer = await startPeer({ endpoints: { [registryName]: origin.url }, defaultRegistry: registryName });
      return peer;
    };
    const done = async () => {
      await peer?.stop();
      peer = undefined;
    };
    const path = `/v2/${REPOSITORY}/blobs/${blob.digest}`;
    const range = {
      direct: [] as number[],
      directOpen: [] as number[],
      endpoint: [] as number[],
      running: [] as number[],
    };
    // As a snapshotter reads: over a connection it keeps open, after a read of another blob (a running
    // peer has compiled its code and opened its registry connection; a read starts that blob's download,
    // which is over before the measured read).
    const rangeOnOpenConnection = async (base: string): Promise<number> => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        await readRange(`${base}/v2/${REPOSITORY}/blobs/${warmUp.digest}`, 0, WARM_UP_READ, { agent });
        await sleep(1_000);
        return (await readRange(`${base}${path}`, OFFSET, LENGTH, { agent })).lastByteMs;
      } finally {
        agent.destroy();
      }
    };
    const whole = { alone: [] as number[], withRange: [] as number[], rangeDuringWhole: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      log(`run ${run + 1}/${RUNS}: range direct`);
      range.direct.push((await readRange(`${origin.url}${path}`, OFFSET, LENGTH)).lastByteMs);
      log(`run ${run + 1}/${RUNS}: range direct, on an open connection`);
      range.directOpen.push(await rangeOnOpenConnection(origin.url));
      log(`run ${run + 1}/${RUNS}: range through a cold peer`);
      const cold = await fresh();
      range.endpoint.push((await readRange(`${cold.url}${path}`, OFFSET, LENGTH)).lastByteMs);
      await done();
      log(`run ${run + 1}/${RUNS}: range through a running peer`);
      range.running.push(await rangeOnOpenConnection((await fresh()).url));
      await done();
      // Alternate which whole-blob arm goes first, so drift on a busy machine favours neither.
      for (const arm of run % 2 === 0 ? ['alone', 'withRange'] : ['withRange', 'alone']) {
        log(`run ${run + 1}/${RUNS}: whole blob ${arm}`);
        const p = await fresh();
        const get = streamGet(`${p.url}${path}`, { timeoutMs: 600_000 });
        if (arm === 'withRange') {
          await sleep(RANGE_AFTER_MS);
          whole.rangeDuringWhole.push((await readRange(`${p.url}${path}`, OFFSET, LENGTH)).lastByteMs);
        }
        const res = await get;
        if (res.error || res.digest !== blob.digest) {
          throw new Error(`whole blob ${arm}: ${res.error?.message ?? `digest ${res.digest}`}`);
        }
        whole[arm as 'alone' | 'withRange'].push(res.doneMs / 1000);
        await done();
      }
    }
    const rangeRatio = median(range.running) / median(range.directOpen);
    const freshProcessRatio = median(range.endpoint) / median(range.direct);
    const slowdown = median(whole.withRange) / median(whole.alone) - 1;
    const result = {
      bench: 'lazy',
      command: `node bench/lazy/run.ts --runs ${RUNS} --size-mib ${SIZE / MIB} --offset-mib ${OFFSET / MIB} --range-mib ${LENGTH / MIB}`,
      date: new Date().toISOString(),
      machine: machineFacts(loadBefore),
      blob: { bytes: SIZE, digest: blob.digest },
      range: { offset: OFFSET, bytes: LENGTH },
      originCapBytesPerSecond: ORIGIN_CAP_BYTES_PER_SECOND,
      runs: RUNS,
      units: { rangeTime: 'ms to the last byte', wholeTime: 's' },
      rangeTimeMs: {
        directFromOrigin: figure(range.direct),
        throughNewPeerProcess: figure(range.endpoint),
        directFromOriginOpenConnection: figure(range.directOpen),
        throughRunningPeerOpenConnection: figure(range.running),
        duringWholeDownload: figure(whole.rangeDuringWhole),
      },
      wholeBlobSeconds: { alone: figure(whole.alone, 2), withRange: figure(whole.withRange, 2) },
      ratios: {
        rangeEndpointOverDirect: round(rangeRatio, 2),
        rangeNewPeerProcessOverDirect: round(freshProcessRatio, 2),
        wholeSlowdown: round(slowdown, 3),
      },
      targets: TARGETS,
      pass: {
        range: rangeRatio <= TARGETS.rangeTimeRatio,
        whole: slowdown <= TARGETS.wholeSlowdown,
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await peer?.stop();
    await proxy?.stop();
    await registry?.stop();
    await removeFixtureCache();
  }
}

await main();
