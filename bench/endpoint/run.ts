/**
 * Endpoint benchmark: the peer's registry endpoint against the real
 * distribution registry, in one run, medians of several runs.
 *
 *   node bench/endpoint/run.ts [--runs 3] [--size-mib 1024] [--cpu-prof DIR]
 *
 * (a) cached blob throughput: peer serving from its cache vs the registry
 *     serving from its disk (sendfile);
 * (b) cold pull through an origin capped at 100 MB/s: fresh peer vs the
 *     registry behind the same kind of capped proxy;
 * (c) peak RSS of the peer streaming the blob to two clients at once, for an
 *     in-flight task and for a cached blob;
 * plus time to first byte for cached and in-flight blobs.
 *
 * The client is curl writing to /dev/null (one process per transfer), the
 * same for every target. Progress goes to stderr, the JSON result to stdout.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { deterministicBytes, pushBlob } from '../../test/fixtures/images.ts';
import { run } from '../../test/fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../../test/fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../../test/fixtures/shoal.ts';
import { startTcpProxy, type TcpProxy } from '../../test/fixtures/tcp-proxy.ts';

const REPOSITORY = 'bench/endpoint';
const ORIGIN_CAP_BYTES_PER_SECOND = 100e6;
const TARGETS = { cachedThroughputRatio: 0.8, coldPullTimeRatio: 1.05, peakRssMiB: 150 };

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
    'cpu-prof': { type: 'string' },
  },
});
const RUNS = positiveInt(args.runs, '--runs');
const SIZE = positiveInt(args['size-mib'], '--size-mib') * 1024 * 1024;
const PROFILE_DIR = args['cpu-prof'] ? resolve(args['cpu-prof']) : undefined;

function positiveInt(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} expects a positive integer, got ${value}`);
  return n;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Figure {
  median: number;
  samples: number[];
}

function figure(samples: number[], digits = 1): Figure {
  const round = (v: number) => Number(v.toFixed(digits));
  return { median: round(median(samples)), samples: samples.map(round) };
}

async function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** Samples VmRSS of a process until stopped; also reads VmHWM (the kernel's peak) at the end. */
function watchRss(
  pid: number,
  intervalMs = 20,
): { stop(): Promise<{ sampledPeakMiB: number; hwmMiB: number }> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await procStatusKiB(pid, 'VmRSS').catch(() => 0));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const hwm = await procStatusKiB(pid, 'VmHWM');
      return { sampledPeakMiB: peak / 1024, hwmMiB: hwm / 1024 };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Setup

async function makeBlob(dir: string): Promise<{ digest: string; path: string; size: number }> {
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

let profileCount = 0;

function peerFor(origin: string, registryName: string, dataDir?: string): Promise<RunningPeer> {
  const env: NodeJS.ProcessEnv = {};
  if (PROFILE_DIR) {
    env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${PROFILE_DIR} --cpu-prof-name=peer-${process.pid}-${profileCount++}.cpuprofile`;
  }
  return startPeer({
    endpoints: { [registryName]: origin },
    defaultRegistry: registryName,
    env,
    ...(dataDir ? { dataDir } : {}),
  });
}

function blobUrl(base: string, digest: string): string {
  return `${base}/v2/${REPOSITORY}/blobs/${digest}`;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'shoal-bench-'));
  if (PROFILE_DIR) await mkdir(PROFILE_DIR, { recursive: true });
  let registry: RunningRegistry | undefined;
  let proxy: TcpProxy | undefined;
  const peers = new Set<RunningPeer>();
  const stopPeer = async (peer: RunningPeer) => {
    peers.delete(peer);
    await peer.stop();
  };
  try {
    log(`writing a ${SIZE / 2 ** 20} MiB blob`);
    const blob = await makeBlob(work);
    registry = await startRegistry();
    await pushBlob(registry.url, REPOSITORY, blob, { timeoutMs: 600_000 });
    const registryName = registry.host;
    const direct = blobUrl(registry.url, blob.digest);
    await fetchWhole(direct, 'registry warm-up');

    // (a) cached throughput, and TTFB of cached blobs.
    log('(a) cached blob throughput');
    const cachedPeer = await peerFor(registry.url, registryName);
    peers.add(cachedPeer);
    const viaPeer = blobUrl(cachedPeer.url, blob.digest);
    await fetchWhole(viaPeer, 'peer fill');
    await fetchWhole(viaPeer, 'peer warm-up');
    const cached = { registry: [] as Transfer[], peer: [] as Transfer[] };
    for (let i = 0; i < RUNS; i++) {
      // Alternate the order so drift on a noisy machine does not favour one side.
      const order = i % 2 === 0 ? (['registry', 'peer'] as const) : (['peer', 'registry'] as const);
      for (const side of order) {
        const t = await fetchWhole(side === 'registry' ? direct : viaPeer, `cached ${side}`);
        cached[side].push(t);
        log(`  run ${i + 1} ${side}: ${mbps(t).toFixed(0)} MB/s, ttfb ${ms(t.ttfb).toFixed(1)} ms`);
      }
    }
    await stopPeer(cachedPeer);

    // (b) cold pull through a capped origin, and TTFB of in-flight blobs.
    log(`(b) cold pull, origin capped at ${ORIGIN_CAP_BYTES_PER_SECOND / 1e6} MB/s`);
    proxy = await startTcpProxy({ target: registry.host, rateBytesPerSecond: ORIGIN_CAP_BYTES_PER_SECOND });
    const cappedDirect = blobUrl(proxy.url, blob.digest);
    const cold = { registry: [] as Transfer[], peer: [] as Transfer[] };
    for (let i = 0; i < RUNS; i++) {
      const order = i % 2 === 0 ? (['registry', 'peer'] as const) : (['peer', 'registry'] as const);
      for (const side of order) {
        let t: Transfer;
        if (side === 'registry') {
          t = await fetchWhole(cappedDirect, 'capped registry');
        } else {
          const peer = await peerFor(proxy.url, registryName);
          peers.add(peer);
          t = await fetchWhole(blobUrl(peer.url, blob.digest), 'cold peer');
          await stopPeer(peer);
        }
        cold[side].push(t);
        log(`  run ${i + 1} ${side}: ${t.total.toFixed(2)} s, ttfb ${ms(t.ttfb).toFixed(1)} ms`);
      }
    }

    // (c) peak RSS with two clients at once: in-flight (capped and uncapped origin), then cached.
    log('(c) peak RSS, two clients at once');
    const rss = { coldCapped: [] as number[], coldUncapped: [] as number[], cached: [] as number[] };
    const idle: number[] = [];
    const twoClientMBps = {
      coldCapped: [] as number[],
      coldUncapped: [] as number[],
      cached: [] as number[],
    };
    for (let i = 0; i < RUNS; i++) {
      for (const kind of ['coldCapped', 'coldUncapped'] as const) {
        const dataDir = await mkdtemp(join(tmpdir(), 'shoal-bench-peer-'));
        try {
          const origin = kind === 'coldCapped' ? proxy.url : registry.url;
          let peer = await peerFor(origin, registryName, dataDir);
          peers.add(peer);
          idle.push((await procStatusKiB(peer.daemon.pid, 'VmRSS')) / 1024);
          let watch = watchRss(peer.daemon.pid);
          let url = blobUrl(peer.url, blob.digest);
          let both = await Promise.all([fetchWhole(url, 'client 1'), fetchWhole(url, 'client 2')]);
          let peak = await watch.stop();
          rss[kind].push(peak.hwmMiB);
          twoClientMBps[kind].push(Math.min(...both.map(mbps)));
          log(
            `  run ${i + 1} ${kind}: VmHWM ${peak.hwmMiB.toFixed(1)} MiB (sampled ${peak.sampledPeakMiB.toFixed(1)}), ` +
              `slowest client ${Math.min(...both.map(mbps)).toFixed(0)} MB/s`,
          );
          await stopPeer(peer);
          if (kind === 'coldCapped') continue;
          // A fresh process on the same data dir: the blob is cached, the peak is this transfer's.
          peer = await peerFor(origin, registryName, dataDir);
          peers.add(peer);
          watch = watchRss(peer.daemon.pid);
          url = blobUrl(peer.url, blob.digest);
          both = await Promise.all([fetchWhole(url, 'client 1'), fetchWhole(url, 'client 2')]);
          peak = await watch.stop();
          rss.cached.push(peak.hwmMiB);
          twoClientMBps.cached.push(Math.min(...both.map(mbps)));
          log(
            `  run ${i + 1} cached: VmHWM ${peak.hwmMiB.toFixed(1)} MiB (sampled ${peak.sampledPeakMiB.toFixed(1)}), ` +
              `slowest client ${Math.min(...both.map(mbps)).toFixed(0)} MB/s`,
          );
          await stopPeer(peer);
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      }
    }

    const cachedRegistry = median(cached.registry.map(mbps));
    const cachedPeerMBps = median(cached.peer.map(mbps));
    const coldRegistry = median(cold.registry.map((t) => t.total));
    const coldPeer = median(cold.peer.map((t) => t.total));
    const throughputRatio = cachedPeerMBps / cachedRegistry;
    const coldRatio = coldPeer / coldRegistry;
    const peakRss = Math.max(median(rss.coldCapped), median(rss.coldUncapped), median(rss.cached));
    const result = {
      bench: 'endpoint',
      command: `node bench/endpoint/run.ts --runs ${RUNS} --size-mib ${SIZE / 2 ** 20}`,
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        kernel: release(),
        node: process.version,
      },
      client: 'curl -o /dev/null (one process per transfer)',
      blob: { bytes: SIZE, digest: blob.digest },
      runs: RUNS,
      units: { throughput: 'MB/s (1e6 bytes/s)', time: 's', ttfb: 'ms', rss: 'MiB' },
      cachedThroughput: {
        registryMBps: figure(cached.registry.map(mbps), 0),
        peerMBps: figure(cached.peer.map(mbps), 0),
        ratio: Number(throughputRatio.toFixed(3)),
        target: `>= ${TARGETS.cachedThroughputRatio}`,
        pass: throughputRatio >= TARGETS.cachedThroughputRatio,
      },
      coldPull: {
        originCapBytesPerSecond: ORIGIN_CAP_BYTES_PER_SECOND,
        registrySeconds: figure(
          cold.registry.map((t) => t.total),
          2,
        ),
        peerSeconds: figure(
          cold.peer.map((t) => t.total),
          2,
        ),
        ratio: Number(coldRatio.toFixed(3)),
        target: `<= ${TARGETS.coldPullTimeRatio}`,
        pass: coldRatio <= TARGETS.coldPullTimeRatio,
      },
      timeToFirstByteMs: {
        cachedPeer: figure(
          cached.peer.map((t) => ms(t.ttfb)),
          2,
        ),
        cachedRegistry: figure(
          cached.registry.map((t) => ms(t.ttfb)),
          2,
        ),
        inFlightPeer: figure(
          cold.peer.map((t) => ms(t.ttfb)),
          2,
        ),
        cappedRegistry: figure(
          cold.registry.map((t) => ms(t.ttfb)),
          2,
        ),
      },
      peakRssTwoClients: {
        measure: 'VmHWM of a fresh peer process over the transfer',
        idleMiB: figure(idle),
        coldCappedOriginMiB: figure(rss.coldCapped),
        coldUncappedOriginMiB: figure(rss.coldUncapped),
        cachedMiB: figure(rss.cached),
        slowestClientMBps: {
          coldCappedOrigin: figure(twoClientMBps.coldCapped, 0),
          coldUncappedOrigin: figure(twoClientMBps.coldUncapped, 0),
          cached: figure(twoClientMBps.cached, 0),
        },
        target: `<= ${TARGETS.peakRssMiB}`,
        pass: peakRss <= TARGETS.peakRssMiB,
      },
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
