/**
 * Endpoint benchmark: the peer's registry endpoint against the real
 * distribution registry, in one run, medians of several runs.
 *
 *   node bench/endpoint/run.ts [--runs 3] [--size-mib 1024] [--only cached,cold,rss]
 *                              [--cpu-prof DIR] [--peer-node-options=--max-semi-space-size=8]
 *
 * cached  cached blob throughput: the peer serving from its cache vs the
 *         registry serving from its disk (sendfile); TTFB of cached blobs.
 * cold    cold pull through an origin capped at 100 MB/s: a fresh peer vs the
 *         registry behind the same kind of capped proxy; TTFB of in-flight blobs.
 * rss     peak RSS of the peer streaming the blob to two clients at once, for
 *         an in-flight task (origin capped and uncapped) and for a cached blob.
 *
 * The client is curl writing to /dev/null, one process per transfer, the same
 * for every target. CPU seconds of the serving process are read from
 * /proc/<pid>/stat around each transfer: on a busy 2-core machine they are a
 * steadier measure of cost than wall time. Progress goes to stderr, the JSON
 * result to stdout.
 */

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { deterministicBytes, pushBlob } from '../../test/fixtures/images.ts';
import { run } from '../../test/fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../../test/fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../../test/fixtures/shoal.ts';
import { startTcpProxy, type TcpProxy } from '../../test/fixtures/tcp-proxy.ts';
import { log, machineFacts, positiveInt } from '../common.ts';
import { cpuSeconds, figure, kibToMB, median, procStatusKiB, round, watchRss } from '../measure.ts';

const REPOSITORY = 'bench/endpoint';
const ORIGIN_CAP_BYTES_PER_SECOND = 100e6;
const TARGETS = { cachedThroughputRatio: 0.8, coldPullTimeRatio: 1.05, peakRssMB: 150 };
const SECTIONS = ['cached', 'cold', 'rss'] as const;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
    only: { type: 'string', default: SECTIONS.join(',') },
    'cpu-prof': { type: 'string' },
    'peer-node-options': { type: 'string' },
  },
});
const RUNS = positiveInt(args.runs, '--runs');
const SIZE_MIB = positiveInt(args['size-mib'], '--size-mib');
const SIZE = SIZE_MIB * 1024 * 1024;
const ONLY = new Set(args.only.split(',').map((s) => s.trim()));
for (const s of ONLY) {
  if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section ${s}`);
}
const PROFILE_DIR = args['cpu-prof'] ? resolve(args['cpu-prof']) : undefined;
/** Node options for the peer processes (NODE_OPTIONS), to compare runtime settings. */
const PEER_NODE_OPTIONS = args['peer-node-options'] ?? '';

// ---------------------------------------------------------------------------------------------
// Client and measurements

interface Transfer {
  status: number;
  bytes: number;
  /** Seconds from start to the first body byte. */
  ttfb: number;
  /** Seconds from start to the last byte. */
  total: number;
}

/** One GET with curl, body discarded. */
async function curlGet(url: string): Promise<Transfer> {
  const { stdout } = await run(
    'curl',
    [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_download} %{time_starttransfer} %{time_total}',
      url,
    ],
    { timeoutMs: 600_000 },
  );
  const [status, bytes, ttfb, total] = stdout.trim().split(/\s+/).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return { status, bytes, ttfb, total };
}

async function fetchWhole(url: string, what: string): Promise<Transfer> {
  const t = await curlGet(url);
  if (t.status !== 200 || t.bytes !== SIZE) {
    throw new Error(`${what}: HTTP ${t.status}, ${t.bytes} of ${SIZE} bytes`);
  }
  return t;
}

const mbps = (t: Transfer) => SIZE / t.total / 1e6;
const ms = (seconds: number) => seconds * 1000;

/** CPU seconds per GiB that `pid` spends while `work` runs. */
async function cpuPerGiB<T>(pid: number, bytes: number, work: () => Promise<T>): Promise<[T, number]> {
  const before = await cpuSeconds(pid);
  const result = await work();
  return [result, ((await cpuSeconds(pid)) - before) / (bytes / 2 ** 30)];
}

// ---------------------------------------------------------------------------------------------
// Setup

interface Blob {
  digest: string;
  path: string;
  size: number;
}

async function makeBlob(dir: string): Promise<Blob> {
  const path = join(dir, 'blob.bin');
  const hash = createHash('sha256');
  async function* hashed() {
    for await (const chunk of deterministicBytes('bench/endpoint', SIZE)) {
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(hashed, createWriteStream(path));
  return { digest: `sha256:${hash.digest('hex')}`, path, size: SIZE };
}

function blobUrl(base: string, digest: string): string {
  return `${base}/v2/${REPOSITORY}/blobs/${digest}`;
}

interface Env {
  blob: Blob;
  registry: RunningRegistry;
  /** The registry's name as the peer knows it (its host:port). */
  registryName: string;
  /** Every peer still running, stopped at the end whatever happens. */
  peers: Set<RunningPeer>;
  cappedProxy(): Promise<TcpProxy>;
}

let profileCount = 0;

async function startBenchPeer(env: Env, origin: string, dataDir?: string): Promise<RunningPeer> {
  const options = [PEER_NODE_OPTIONS];
  if (PROFILE_DIR) {
    options.push(
      `--cpu-prof --cpu-prof-dir=${PROFILE_DIR} --cpu-prof-name=peer-${process.pid}-${profileCount++}.cpuprofile`,
    );
  }
  const vars: NodeJS.ProcessEnv = { NODE_OPTIONS: options.join(' ').trim() };
  const peer = await startPeer({
    endpoints: { [env.registryName]: origin },
    defaultRegistry: env.registryName,
    env: vars,
    ...(dataDir ? { dataDir } : {}),
  });
  env.peers.add(peer);
  return peer;
}

async function stopBenchPeer(env: Env, peer: RunningPeer): Promise<void> {
  env.peers.delete(peer);
  await peer.stop();
}

/** Alternates which side goes first, so drift on a noisy machine does not favour one. */
function order<A extends string, B extends string>(run: number, a: A, b: B): (A | B)[] {
  return run % 2 === 0 ? [a, b] : [b, a];
}

// ---------------------------------------------------------------------------------------------
// Sections

async function benchCached(env: Env) {
  log('cached blob throughput');
  const direct = blobUrl(env.registry.url, env.blob.digest);
  const peer = await startBenchPeer(env, env.registry.url);
  try {
    const viaPeer = blobUrl(peer.url, env.blob.digest);
    await fetchWhole(viaPeer, 'peer fill');
    await fetchWhole(viaPeer, 'peer warm-up');
    await fetchWhole(direct, 'registry warm-up');
    const transfers = { registry: [] as Transfer[], peer: [] as Transfer[] };
    const cpu = { registry: [] as number[], peer: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      for (const side of order(i, 'registry', 'peer')) {
        const pid = side === 'registry' ? env.registry.pid : peer.daemon.pid;
        const [t, cpuGiB] = await cpuPerGiB(pid, SIZE, () =>
          fetchWhole(side === 'registry' ? direct : viaPeer, `cached ${side}`),
        );
        transfers[side].push(t);
        cpu[side].push(cpuGiB);
        log(
          `  run ${i + 1} ${side}: ${mbps(t).toFixed(0)} MB/s, ttfb ${ms(t.ttfb).toFixed(1)} ms, ` +
            `${cpuGiB.toFixed(2)} CPU s/GiB`,
        );
      }
    }
    const registryMBps = median(transfers.registry.map(mbps));
    const peerMBps = median(transfers.peer.map(mbps));
    const ratio = peerMBps / registryMBps;
    return {
      throughput: {
        registryMBps: figure(transfers.registry.map(mbps), 0),
        peerMBps: figure(transfers.peer.map(mbps), 0),
        ratio: round(ratio),
        target: `>= ${TARGETS.cachedThroughputRatio}`,
        pass: ratio >= TARGETS.cachedThroughputRatio,
        serverCpuSecondsPerGiB: { registry: figure(cpu.registry, 2), peer: figure(cpu.peer, 2) },
      },
      ttfbMs: {
        peer: figure(
          transfers.peer.map((t) => ms(t.ttfb)),
          2,
        ),
        registry: figure(
          transfers.registry.map((t) => ms(t.ttfb)),
          2,
        ),
      },
    };
  } finally {
    await stopBenchPeer(env, peer);
  }
}

async function benchCold(env: Env) {
  log(`cold pull, origin capped at ${ORIGIN_CAP_BYTES_PER_SECOND / 1e6} MB/s`);
  const proxy = await env.cappedProxy();
  const cappedDirect = blobUrl(proxy.url, env.blob.digest);
  const transfers = { registry: [] as Transfer[], peer: [] as Transfer[] };
  const peerCpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const side of order(i, 'registry', 'peer')) {
      let t: Transfer;
      if (side === 'registry') {
        t = await fetchWhole(cappedDirect, 'capped registry');
      } else {
        const peer = await startBenchPeer(env, proxy.url);
        try {
          let cpuGiB: number;
          [t, cpuGiB] = await cpuPerGiB(peer.daemon.pid, SIZE, () =>
            fetchWhole(blobUrl(peer.url, env.blob.digest), 'cold peer'),
          );
          peerCpu.push(cpuGiB);
        } finally {
          await stopBenchPeer(env, peer);
        }
      }
      transfers[side].push(t);
      log(`  run ${i + 1} ${side}: ${t.total.toFixed(2)} s, ttfb ${ms(t.ttfb).toFixed(1)} ms`);
    }
  }
  const registrySeconds = median(transfers.registry.map((t) => t.total));
  const peerSeconds = median(transfers.peer.map((t) => t.total));
  const ratio = peerSeconds / registrySeconds;
  return {
    pull: {
      originCapBytesPerSecond: ORIGIN_CAP_BYTES_PER_SECOND,
      registrySeconds: figure(
        transfers.registry.map((t) => t.total),
        2,
      ),
      peerSeconds: figure(
        transfers.peer.map((t) => t.total),
        2,
      ),
      ratio: round(ratio),
      target: `<= ${TARGETS.coldPullTimeRatio}`,
      pass: ratio <= TARGETS.coldPullTimeRatio,
      peerCpuSecondsPerGiB: figure(peerCpu, 2),
    },
    ttfbMs: {
      inFlightPeer: figure(
        transfers.peer.map((t) => ms(t.ttfb)),
        2,
      ),
      cappedRegistry: figure(
        transfers.registry.map((t) => ms(t.ttfb)),
        2,
      ),
    },
  };
}

async function benchRss(env: Env) {
  log('peak RSS, two clients at once');
  const proxy = await env.cappedProxy();
  const kinds = ['coldCappedOrigin', 'coldUncappedOrigin', 'cached'] as const;
  type Kind = (typeof kinds)[number];
  const peaks: Record<Kind, number[]> = { coldCappedOrigin: [], coldUncappedOrigin: [], cached: [] };
  const slowest: Record<Kind, number[]> = { coldCappedOrigin: [], coldUncappedOrigin: [], cached: [] };
  const growth: Record<Kind, number[]> = { coldCappedOrigin: [], coldUncappedOrigin: [], cached: [] };
  const idle: number[] = [];
  const measure = async (kind: Kind, run: number, origin: string, dataDir: string) => {
    // A fresh process each time, so VmHWM is this transfer's peak (and start-up's).
    const peer = await startBenchPeer(env, origin, dataDir);
    try {
      const idleMB = kibToMB(await procStatusKiB(peer.daemon.pid, 'VmRSS'));
      idle.push(idleMB);
      const watch = watchRss(peer.daemon.pid);
      const url = blobUrl(peer.url, env.blob.digest);
      const both = await Promise.all([fetchWhole(url, 'client 1'), fetchWhole(url, 'client 2')]);
      const peak = await watch.stop();
      const slow = Math.min(...both.map(mbps));
      peaks[kind].push(peak.hwmMB);
      growth[kind].push(peak.sampledPeakMB - idleMB);
      slowest[kind].push(slow);
      log(
        `  run ${run + 1} ${kind}: idle ${idleMB.toFixed(1)} MB, VmHWM ${peak.hwmMB.toFixed(1)} MB ` +
          `(sampled ${peak.sampledPeakMB.toFixed(1)}), slowest client ${slow.toFixed(0)} MB/s`,
      );
    } finally {
      await stopBenchPeer(env, peer);
    }
  };
  for (let i = 0; i < RUNS; i++) {
    for (const capped of [true, false]) {
      const dataDir = await mkdtemp(join(tmpdir(), 'shoal-bench-peer-'));
      try {
        const origin = capped ? proxy.url : env.registry.url;
        await measure(capped ? 'coldCappedOrigin' : 'coldUncappedOrigin', i, origin, dataDir);
        if (!capped) await measure('cached', i, origin, dataDir);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  }
  const worst = Math.max(...kinds.map((k) => median(peaks[k])));
  return {
    measure: 'VmHWM of a fresh peer process (start-up included) over the two transfers',
    idleMB: figure(idle),
    peakMB: {
      coldCappedOrigin: figure(peaks.coldCappedOrigin),
      coldUncappedOrigin: figure(peaks.coldUncappedOrigin),
      cached: figure(peaks.cached),
    },
    growthOverIdleMB: {
      measure: 'sampled peak VmRSS during the transfers minus VmRSS of the idle process just before',
      coldCappedOrigin: figure(growth.coldCappedOrigin),
      coldUncappedOrigin: figure(growth.coldUncappedOrigin),
      cached: figure(growth.cached),
    },
    slowestClientMBps: {
      coldCappedOrigin: figure(slowest.coldCappedOrigin, 0),
      coldUncappedOrigin: figure(slowest.coldUncappedOrigin, 0),
      cached: figure(slowest.cached, 0),
    },
    target: `<= ${TARGETS.peakRssMB}`,
    pass: worst <= TARGETS.peakRssMB,
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'shoal-bench-'));
  if (PROFILE_DIR) await mkdir(PROFILE_DIR, { recursive: true });
  let registry: RunningRegistry | undefined;
  let proxy: TcpProxy | undefined;
  const peers = new Set<RunningPeer>();
  const loadBefore = loadavg()[0]!;
  try {
    log(`writing a ${SIZE_MIB} MiB blob`);
    const blob = await makeBlob(work);
    registry = await startRegistry();
    await pushBlob(registry.url, REPOSITORY, blob, { timeoutMs: 600_000 });
    const started = registry;
    const env: Env = {
      blob,
      registry: started,
      registryName: started.host,
      peers,
      async cappedProxy() {
        proxy ??= await startTcpProxy({
          target: started.host,
          rateBytesPerSecond: ORIGIN_CAP_BYTES_PER_SECOND,
        });
        return proxy;
      },
    };
    const cached = ONLY.has('cached') ? await benchCached(env) : undefined;
    const cold = ONLY.has('cold') ? await benchCold(env) : undefined;
    const rss = ONLY.has('rss') ? await benchRss(env) : undefined;
    const result = {
      bench: 'endpoint',
      command:
        `node bench/endpoint/run.ts --runs ${RUNS} --size-mib ${SIZE_MIB} --only ${[...ONLY].join(',')}` +
        (PEER_NODE_OPTIONS ? ` --peer-node-options='${PEER_NODE_OPTIONS}'` : ''),
      date: new Date().toISOString(),
      machine: machineFacts(loadBefore),
      client: 'curl -o /dev/null, one process per transfer',
      blob: { bytes: SIZE, digest: blob.digest },
      runs: RUNS,
      units: { throughput: 'MB/s (1e6 bytes/s)', time: 's', ttfb: 'ms', rss: 'MB (1e6 bytes)' },
      ...(cached ? { cachedThroughput: cached.throughput } : {}),
      ...(cold ? { coldPull: cold.pull } : {}),
      ...(cached || cold
        ? {
            timeToFirstByteMs: {
              ...(cached ? { cachedPeer: cached.ttfbMs.peer, cachedRegistry: cached.ttfbMs.registry } : {}),
              ...(cold ? cold.ttfbMs : {}),
            },
          }
        : {}),
      ...(rss ? { peakRssTwoClients: rss } : {}),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const peer of peers) await peer.stop().catch(() => {});
    await proxy?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
