/**
 * Rollout benchmark: N nodes pull the same image at the same moment while the
 * origin's egress is capped, through the swarm (1 scheduler + N peers) and,
 * as a baseline, directly from the origin.
 *
 *   node bench/rollout/run.ts [--nodes 10] [--origin-rate 20MB] [--peer-rate 0] [--image-mib 160 | --layers MiB,...]
 *                             [--runs 3] [--only shoal,direct] [--netns] [--peer-arg ARG]...
 *                             [--scheduler-arg ARG]... [--cpu-prof DIR] [--log-dir DIR]
 *
 * origin   the CNCF distribution registry holding an image of about
 *          --image-mib MiB in three uncompressed layers (or of the layer sizes
 *          --layers gives, in MiB, as bench/cluster takes them), behind a TCP proxy
 *          that counts its egress and caps it at --origin-rate (a shared
 *          token bucket). With --netns (root) the cap is a `tc tbf` qdisc on
 *          a veth into a network namespace of its own instead, and the proxy
 *          only counts.
 * direct   N concurrent clients, each pulling the manifest by tag and then
 *          every blob in parallel straight from the capped origin.
 * shoal    a fresh scheduler and N fresh peers per run (peers capped at
 *          --peer-rate both ways when set); N clients, one per peer, each
 *          pulling the manifest by tag and then every blob in parallel from
 *          its own peer's endpoint, as containerd does.
 *
 * Every body is hashed and checked against its digest: a mismatch aborts the
 * benchmark. A pull that fails otherwise (error status, cut-off body, no data
 * for --client-idle-s, 90 s by default) fails its run, which is recorded with the swarm's metrics, the
 * daemons' last log lines and the timeline, left out of the medians, and makes
 * the exit code 1. Node times are measured from the common start. The lower
 * bound is T_lb = S / min(B_origin, B_peer), S the image's blob bytes.
 *
 * Every process (peers, scheduler, registry, proxy and clients) runs on this
 * one machine and they share its CPUs: each run records the CPU seconds of
 * every process it started, the CPU seconds other processes on the machine
 * used meanwhile, the swarm's metrics, the warnings the daemons logged, and a
 * timeline (origin bytes, client bytes, bytes the peers took in, machine busy
 * share). --peer-arg / --scheduler-arg pass extra flags to every `shoal peer`
 * / `shoal scheduler` (e.g. --peer-arg=--upload-slots --peer-arg=16);
 * --cpu-prof DIR profiles the daemons; --log-dir DIR keeps their full logs.
 * --client-idle-s S: how long a client waits for a body's next byte (containerd's CRI
 * plugin gives a pull 5 minutes without progress, image_pull_progress_timeout).
 * Progress goes to stderr, the JSON result to stdout.
 */

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../packages/cli/src/sizes.ts';
import {
  buildImage,
  type ImageDescription,
  type LayerSpec,
  MediaTypes,
  pushImage,
  removeFixtureCache,
} from '../../test/fixtures/images.ts';
import { waitFor } from '../../test/fixtures/net.ts';
import { Daemon, run } from '../../test/fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../../test/fixtures/registry.ts';
import {
  type RunningPeer,
  type RunningScheduler,
  startPeer,
  startScheduler,
  sumSamples,
} from '../../test/fixtures/shoal.ts';
import { startTcpProxy, type TcpProxy } from '../../test/fixtures/tcp-proxy.ts';
import { log, positiveInt } from '../common.ts';
import {
  kibToMB,
  machineJiffies,
  median,
  cpuSeconds as processCpuSeconds,
  procStatusKiB,
  round,
} from '../measure.ts';
import { forward } from './forward.ts';

/** The name clients use for the origin; it does not resolve, so only the peers' endpoint mapping reaches it. */
const ORIGIN = 'registry.invalid:5000';
const REPOSITORY = 'bench/rollout';
const TAG = 'v1';
const MiB = 1024 * 1024;
const TARGETS = { originEgressRatio: 1.02, maxOverLowerBound: 1.5 };
const SECTIONS = ['shoal', 'direct'] as const;
const MANIFEST_ACCEPT = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
  '*/*',
].join(', ');
const SAMPLE_INTERVAL_MS = 250;
/**
 * How often the peers' byte counters are read for the timeline (an HTTP request to every peer).
 * A scrape costs each peer a few ms of CPU, which on this 2-core machine is taken from the
 * transfer; Prometheus scrapes every 15-30 s, so once in 3 s is already more than a deployment.
 */
const SWARM_POLL_MS = 3000;

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    'origin-rate': { type: 'string', default: '20MB' },
    'peer-rate': { type: 'string', default: '0' },
    'image-mib': { type: 'string', default: '160' },
    layers: { type: 'string' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string', default: SECTIONS.join(',') },
    netns: { type: 'boolean', default: false },
    'peer-arg': { type: 'string', multiple: true, default: [] },
    'scheduler-arg': { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    'log-dir': { type: 'string' },
    'client-idle-s': { type: 'string', default: '90' },
  },
});
/** Idle time after which a client request is abandoned (the peers fall back to the origin after 30 s). */
const IDLE_TIMEOUT_MS = positiveInt(args['client-idle-s'], '--client-idle-s') * 1000;
const NODES = positiveInt(args.nodes, '--nodes');
const RUNS = positiveInt(args.runs, '--runs');
const IMAGE_MIB = positiveInt(args['image-mib'], '--image-mib');
/** Layer sizes in MiB: --layers as given, else three in the rollout image's proportions. */
const LAYER_MIB = args.layers
  ? args.layers.split(',').map((v) => positiveInt(v.trim(), '--layers'))
  : threeLayers(IMAGE_MIB);
const ORIGIN_RATE = parseSize(args['origin-rate']);
const PEER_RATE = parseSize(args['peer-rate']);
if (ORIGIN_RATE <= 0)
  throw new Error('--origin-rate must be above 0: the benchmark is about a capped origin');
const ONLY = new Set(args.only.split(',').map((s) => s.trim()));
for (const s of ONLY) {
  if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section ${s}`);
}
const PROFILE_DIR = args['cpu-prof'] ? resolve(args['cpu-prof']) : undefined;
const LOG_DIR = args['log-dir'] ? resolve(args['log-dir']) : undefined;

// ---------------------------------------------------------------------------------------------
// Image

/** Three layer sizes in the proportions of the rollout test image (120:90:50), about `mib` MiB in all. */
function threeLayers(mib: number): number[] {
  const base = Math.max(1, Math.round((mib * 12) / 26));
  const runtime = Math.max(1, Math.round((mib * 9) / 26));
  return [base, runtime, Math.max(1, mib - base - runtime)];
}

/** An image of uncompressed layers of the given sizes in MiB. */
function benchImage(layerMib: readonly number[]): Promise<ImageDescription> {
  const names = ['base', 'runtime', 'app'];
  const layer = (name: string, sizeMiB: number): LayerSpec => ({
    compression: 'none',
    files: [{ path: `opt/rollout/${name}.bin`, size: sizeMiB * MiB, seed: `bench/rollout/${name}` }],
  });
  return buildImage({
    name: 'bench-rollout',
    format: 'oci',
    platforms: [
      {
        platform: { os: 'linux', architecture: 'amd64' },
        layers: layerMib.map((mib, i) => layer(names[i] ?? `layer-${i}`, mib)),
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Client: a registry pull as containerd does it, every body hashed

interface Fetched {
  status: number;
  bytes: number;
  digest: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body when it is small (manifests). */
  body: Buffer;
}

/** One streamed GET; the body is hashed as it arrives and kept only up to 4 MiB. */
function get(
  url: string,
  agent: Agent,
  headers: Record<string, string>,
  onBytes: (n: number) => void,
): Promise<Fetched> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(url, { headers, agent }, (res) => {
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        if (bytes < 4 * MiB) kept.push(chunk);
        bytes += chunk.length;
        onBytes(chunk.length);
      });
      res.on('error', reject);
      res.once('aborted', () => reject(new Error(`GET ${url}: response aborted after ${bytes} bytes`)));
      res.once('end', () => {
        if (!res.complete) {
          reject(new Error(`GET ${url}: response cut off after ${bytes} bytes`));
          return;
        }
        resolvePromise({
          status: res.statusCode ?? 0,
          bytes,
          digest: `sha256:${hash.digest('hex')}`,
          headers: res.headers,
          body: Buffer.concat(kept),
        });
      });
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () =>
      req.destroy(new Error(`GET ${url}: no data for ${IDLE_TIMEOUT_MS} ms`)),
    );
    req.on('error', reject);
    req.end();
  });
}

interface PullTimes {
  /** from the common start to the last verified byte of the last blob */
  seconds: number;
  /** from the common start to the first blob byte */
  firstByteSeconds: number;
  /** from the common start to the end of each blob: config, then the layers in manifest order */
  blobSeconds: number[];
}

interface Descriptor {
  digest: string;
  size: number;
}

/**
 * Pulls the image from `base` (an endpoint, or the origin): manifest by tag,
 * then config and layers in parallel. Throws on any status, size or digest
 * mismatch. Resolves with the seconds from `t0` to the last verified byte.
 */
async function pull(
  base: string,
  ns: string | undefined,
  image: ImageDescription,
  t0: number,
  onBytes: (n: number) => void,
): Promise<PullTimes> {
  const query = ns ? `?ns=${encodeURIComponent(ns)}` : '';
  // Connections are kept alive and parallel requests get connections of their own, as Go's client does.
  const agent = new Agent({ keepAlive: true });
  try {
    return await pullWith(agent, base, query, image, t0, onBytes);
  } finally {
    agent.destroy();
  }
}

async function pullWith(
  agent: Agent,
  base: string,
  query: string,
  image: ImageDescription,
  t0: number,
  onBytes: (n: number) => void,
): Promise<PullTimes> {
  let firstByte: number | undefined;
  const counted = (n: number) => {
    firstByte ??= performance.now();
    onBytes(n);
  };
  const manifestUrl = `${base}/v2/${REPOSITORY}/manifests/${TAG}${query}`;
  const manifest = await get(manifestUrl, agent, { accept: MANIFEST_ACCEPT }, () => {});
  if (manifest.status !== 200) throw new Error(`GET ${manifestUrl}: HTTP ${manifest.status}`);
  if (manifest.digest !== image.digest) {
    throw new Error(`manifest from ${base} hashes to ${manifest.digest}, pushed ${image.digest}`);
  }
  const parsed = JSON.parse(manifest.body.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  const blobs = [parsed.config, ...parsed.layers];
  const blobSeconds = await Promise.all(
    blobs.map(async (blob) => {
      const url = `${base}/v2/${REPOSITORY}/blobs/${blob.digest}${query}`;
      const got = await get(url, agent, {}, counted);
      if (got.status !== 200) throw new Error(`GET ${url}: HTTP ${got.status}`);
      if (got.bytes !== blob.size) throw new Error(`GET ${url}: ${got.bytes} bytes, expected ${blob.size}`);
      if (got.digest !== blob.digest) {
        throw new Error(`DIGEST MISMATCH: GET ${url} hashes to ${got.digest}`);
      }
      return (performance.now() - t0) / 1000;
    }),
  );
  const done = performance.now();
  return {
    seconds: (done - t0) / 1000,
    firstByteSeconds: ((firstByte ?? done) - t0) / 1000,
    blobSeconds,
  };
}

// ---------------------------------------------------------------------------------------------
// Measurements: CPU, timeline, metrics

/** User+system CPU seconds a process has used so far (0 once it is gone). */
const cpuSeconds = (pid: number) => processCpuSeconds(pid).catch(() => 0);

/** The machine counts as quiet below this busy share of all cores over one second. */
const QUIET_BUSY_SHARE = 0.15;
const SETTLE_TIMEOUT_MS = 20_000;

/**
 * Waits until the freshly started swarm has settled (connections, identify, DHT routing tables):
 * in a cluster the daemons run long before a rollout, so the rollout must not share the machine
 * with their start-up. Returns the seconds waited; gives up waiting after SETTLE_TIMEOUT_MS.
 */
async function waitForQuietMachine(): Promise<number> {
  const started = performance.now();
  let before = await machineJiffies();
  while (performance.now() - started < SETTLE_TIMEOUT_MS) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await machineJiffies();
    const busy = (now.busy - before.busy) / Math.max(1, now.total - before.total);
    before = now;
    if (busy < QUIET_BUSY_SHARE) break;
  }
  return round((performance.now() - started) / 1000, 1);
}

interface CpuWatch {
  stop(): Promise<{
    wallSeconds: number;
    /** CPU seconds per process over the interval */
    perProcess: Record<string, number>;
    /** this process: clients, proxy, timeline */
    benchSeconds: number;
    /** share of all cores busy over the interval, every process on the machine included */
    machineBusy: number;
    /** CPU seconds all processes on the machine used over the interval */
    machineBusySeconds: number;
  }>;
}

async function watchCpu(pids: Record<string, number>): Promise<CpuWatch> {
  const started = performance.now();
  const before = Object.fromEntries(
    await Promise.all(Object.entries(pids).map(async ([k, pid]) => [k, await cpuSeconds(pid)] as const)),
  );
  const benchBefore = process.cpuUsage();
  const jiffiesBefore = await machineJiffies();
  return {
    async stop() {
      const jiffiesAfter = await machineJiffies();
      const bench = process.cpuUsage(benchBefore);
      const perProcess: Record<string, number> = {};
      for (const [k, pid] of Object.entries(pids))
        perProcess[k] = round((await cpuSeconds(pid)) - before[k]!, 2);
      return {
        wallSeconds: round((performance.now() - started) / 1000, 2),
        perProcess,
        benchSeconds: round((bench.user + bench.system) / 1e6, 2),
        machineBusy: round(
          (jiffiesAfter.busy - jiffiesBefore.busy) / Math.max(1, jiffiesAfter.total - jiffiesBefore.total),
        ),
        // /proc/stat counts in USER_HZ, 100 per second on Linux.
        machineBusySeconds: round((jiffiesAfter.busy - jiffiesBefore.busy) / 100, 2),
      };
    },
  };
}

/**
 * Samples origin egress, client bytes, the machine's busy share and (with `peers`) the blob bytes
 * the peers have taken in from any source; `originDone` is when the origin had sent `target` bytes.
 */
function timeline(
  proxy: TcpProxy,
  clientBytes: () => number,
  t0: number,
  target: number,
  peers: RunningPeer[] = [],
) {
  const originBase = proxy.bytesDown;
  const samples: [number, number, number, number, number | null][] = [];
  let originDone: number | undefined;
  let jiffies: { busy: number; total: number } | undefined;
  let swarmBytes = 0;
  let polling = false;
  const pollSwarm = async () => {
    if (polling || peers.length === 0) return;
    polling = true;
    try {
      const texts = await Promise.all(peers.map((p) => exposition(p.adminUrl)));
      swarmBytes = texts.reduce((n, text) => n + sumSamples(text, 'shoal_downloaded_bytes_total'), 0);
    } catch {
      // a peer too busy to answer now: keep the last value
    } finally {
      polling = false;
    }
  };
  const sample = async () => {
    const t = (performance.now() - t0) / 1000;
    const origin = proxy.bytesDown - originBase;
    if (originDone === undefined && origin >= target) originDone = t;
    const now = await machineJiffies();
    const busy = jiffies ? (now.busy - jiffies.busy) / Math.max(1, now.total - jiffies.total) : null;
    jiffies = now;
    samples.push([
      round(t, 2),
      round(origin / 1e6, 1),
      round(clientBytes() / 1e6, 1),
      round(swarmBytes / 1e6, 1),
      busy === null ? null : round(busy, 2),
    ]);
  };
  void sample();
  const timer = setInterval(() => void sample(), SAMPLE_INTERVAL_MS);
  const swarmTimer = setInterval(() => void pollSwarm(), SWARM_POLL_MS);
  return {
    async stop() {
      clearInterval(timer);
      clearInterval(swarmTimer);
      await pollSwarm();
      await sample();
      return {
        originBytes: proxy.bytesDown - originBase,
        originDoneSeconds: originDone === undefined ? undefined : round(originDone, 2),
        samples,
      };
    },
  };
}

const TIMELINE_COLUMNS = ['seconds', 'originMB', 'clientsMB', 'peersTakenInMB', 'machineBusy'];

/** Sample lines of a Prometheus exposition. */
function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

async function exposition(adminUrl: string): Promise<string> {
  const res = await fetch(`${adminUrl}/metrics`);
  return res.text();
}

/**
 * Quantile from cumulative histogram buckets: the upper bound of the bucket that holds it, or
 * "> X" when it lies beyond the largest finite bound X.
 */
function bucketQuantile(buckets: Map<number, number>, q: number): number | string | null {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const finite = sorted.filter(([le]) => Number.isFinite(le));
  for (const [le, count] of finite) if (count >= q * total) return le;
  return `> ${finite.at(-1)?.[0] ?? 0}`;
}

async function swarmMetrics(peers: RunningPeer[], scheduler: RunningScheduler) {
  const texts = await Promise.all(peers.map((p) => exposition(p.adminUrl)));
  const fetchBuckets = new Map<number, number>();
  const perPeer = texts.map((text) => {
    const n = (name: string, labels: Record<string, string> = {}) => sumSamples(text, name, labels);
    for (const s of parseExposition(text)) {
      if (s.name !== 'shoal_piece_fetch_duration_seconds_bucket') continue;
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      fetchBuckets.set(le, (fetchBuckets.get(le) ?? 0) + s.value);
    }
    const fetches = n('shoal_piece_fetch_duration_seconds_count');
    return {
      fromOriginMB: round(n('shoal_downloaded_bytes_total', { source: 'origin' }) / 1e6, 1),
      fromPeersMB: round(n('shoal_downloaded_bytes_total', { source: 'peer' }) / 1e6, 1),
      uploadedMB: round(n('shoal_uploaded_bytes_total') / 1e6, 1),
      pieces: {
        ok: n('shoal_pieces_total', { result: 'ok' }),
        origin: n('shoal_pieces_total', { result: 'origin' }),
        unavailable: n('shoal_pieces_total', { result: 'unavailable' }),
        mismatch: n('shoal_pieces_total', { result: 'mismatch' }),
        superseded: n('shoal_pieces_total', { result: 'superseded' }),
      },
      pieceFetchMeanMs:
        fetches > 0 ? round((n('shoal_piece_fetch_duration_seconds_sum') / fetches) * 1000, 1) : null,
      firstByteMissMeanMs: round(
        (n('shoal_endpoint_first_byte_seconds_sum', { cache: 'miss' }) /
          Math.max(1, n('shoal_endpoint_first_byte_seconds_count', { cache: 'miss' }))) *
          1000,
        1,
      ),
      tasks: {
        complete: n('shoal_tasks_total', { result: 'complete' }),
        failed: n('shoal_tasks_total', { result: 'failed' }),
      },
    };
  });
  const sched = await exposition(scheduler.adminUrl);
  const s = (name: string, labels: Record<string, string> = {}) => sumSamples(sched, name, labels);
  const failures: Record<string, number> = {};
  for (const sample of parseExposition(sched)) {
    if (sample.name === 'shoal_scheduler_piece_failures_total')
      failures[sample.labels.reason ?? ''] = sample.value;
  }
  const fetchCount = fetchBuckets.get(Number.POSITIVE_INFINITY) ?? 0;
  return {
    peers: perPeer,
    pieceFetchSeconds: {
      count: fetchCount,
      p50UpTo: bucketQuantile(fetchBuckets, 0.5),
      p90UpTo: bucketQuantile(fetchBuckets, 0.9),
      p99UpTo: bucketQuantile(fetchBuckets, 0.99),
    },
    scheduler: {
      peers: s('shoal_scheduler_peers'),
      assignments: {
        peer: s('shoal_scheduler_assignments_total', { kind: 'peer' }),
        origin: s('shoal_scheduler_assignments_total', { kind: 'origin' }),
        endgame: s('shoal_scheduler_assignments_total', { kind: 'endgame' }),
      },
      backToSource: s('shoal_scheduler_back_to_source_total'),
      originPieces: s('shoal_scheduler_origin_pieces_total'),
      pieceFailures: failures,
      blocklistEvents: s('shoal_scheduler_blocklist_events_total'),
      assignmentMeanMs: round(
        (s('shoal_scheduler_assignment_duration_seconds_sum') /
          Math.max(1, s('shoal_scheduler_assignment_duration_seconds_count'))) *
          1000,
        3,
      ),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Origin: capped by the proxy's token bucket, or by tc tbf in a network namespace

interface Origin {
  /** Counts (and, without --netns, caps) the origin's egress. */
  proxy: TcpProxy;
  how: string;
  close(): Promise<void>;
}

async function proxyOrigin(registry: RunningRegistry): Promise<Origin> {
  const proxy = await startTcpProxy({ target: registry.host, rateBytesPerSecond: ORIGIN_RATE });
  return {
    proxy,
    how: 'token bucket in a loopback TCP proxy (test/fixtures/tcp-proxy.ts)',
    close: () => proxy.stop(),
  };
}

/**
 * Counting proxy (127.0.0.1) -> veth -> forwarder in namespace NS -> veth -> forwarder
 * on the host side of the veth -> registry. The namespace side's egress (what
 * the origin sends) goes through `tc tbf` at the origin rate.
 */
async function netnsOrigin(registry: RunningRegistry): Promise<Origin> {
  if (process.getuid?.() !== 0) throw new Error('--netns needs root (ip netns, tc)');
  const tag = `sb${process.pid % 100000}`;
  const ns = `shoal-bench-${tag}`;
  const [hostIf, nsIf] = [`${tag}h`, `${tag}n`];
  const subnet = `10.${200 + (process.pid % 50)}.${(process.pid >> 6) % 250}`;
  const [hostIp, nsIp] = [`${subnet}.1`, `${subnet}.2`];
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    await run('ip', ['netns', 'add', ns]);
    cleanups.push(() => run('ip', ['netns', 'del', ns]));
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    cleanups.push(() => run('ip', ['link', 'del', hostIf]));
    await run('ip', ['link', 'set', nsIf, 'netns', ns]);
    await run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    const inNs = (cmd: string[]) => run('ip', ['netns', 'exec', ns, ...cmd]);
    await inNs(['ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf]);
    await inNs(['ip', 'link', 'set', nsIf, 'up']);
    await inNs(['ip', 'link', 'set', 'lo', 'up']);
    const burst = Math.max(256 * 1024, Math.round(ORIGIN_RATE / 50));
    await inNs([
      'tc',
      'qdisc',
      'add',
      'dev',
      nsIf,
      'root',
      'tbf',
      'rate',
      `${ORIGIN_RATE * 8}bit`,
      'burst',
      String(burst),
      'latency',
      '100ms',
    ]);
    const hostSide = await forward(`${hostIp}:0`, registry.host);
    cleanups.push(() => new Promise<void>((r) => hostSide.close(() => r())));
    const hostPort = (hostSide.address() as { port: number }).port;
    const nsPort = 5000;
    const forwarder = new Daemon('netns forwarder', 'ip', [
      'netns',
      'exec',
      ns,
      process.execPath,
      resolve(import.meta.dirname, 'forward.ts'),
      `${nsIp}:${nsPort}`,
      `${hostIp}:${hostPort}`,
    ]);
    cleanups.push(() => forwarder.stop());
    await waitFor('netns forwarder', async () => forwarder.output.includes('ready'), {
      timeoutMs: 10_000,
      abort: () => forwarder.exitError(),
    });
    const proxy = await startTcpProxy({ target: `${nsIp}:${nsPort}` });
    cleanups.push(() => proxy.stop());
    return { proxy, how: `tc tbf on a veth into network namespace ${ns} (burst ${burst} bytes)`, close };
  } catch (error) {
    await close();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Runs

interface NodeTimes {
  nodeSeconds: number[];
  firstByteSeconds: number[];
  /** per blob (config, then layers), when the last node had it */
  slowestNodePerBlob: number[];
  p50: number;
  max: number;
}

function nodeTimes(pulls: PullTimes[]): NodeTimes {
  const seconds = pulls.map((p) => p.seconds);
  return {
    nodeSeconds: seconds.map((s) => round(s, 2)),
    firstByteSeconds: pulls.map((p) => round(p.firstByteSeconds, 2)),
    slowestNodePerBlob: (pulls[0]?.blobSeconds ?? []).map((_, b) =>
      round(Math.max(...pulls.map((p) => p.blobSeconds[b] ?? 0)), 2),
    ),
    p50: round(median(seconds), 2),
    max: round(Math.max(...seconds), 2),
  };
}

interface Env {
  image: ImageDescription;
  origin: Origin;
  registry: RunningRegistry;
  lowerBound: number;
}

async function runDirect(env: Env) {
  const { proxy } = env.origin;
  let clientBytes = 0;
  const t0 = performance.now();
  const line = timeline(proxy, () => clientBytes, t0, NODES * env.image.totalBlobBytes);
  const seconds = await Promise.all(
    Array.from({ length: NODES }, () =>
      pull(proxy.url, undefined, env.image, t0, (n) => {
        clientBytes += n;
      }),
    ),
  );
  const tl = await line.stop();
  const times = nodeTimes(seconds);
  return {
    ...times,
    maxOverLowerBound: round(times.max / env.lowerBound),
    originEgressRatio: round(tl.originBytes / env.image.totalBlobBytes),
  };
}

let profileCount = 0;

async function startPeers(scheduler: RunningScheduler, originUrl: string): Promise<RunningPeer[]> {
  const extra = [...args['peer-arg']];
  if (PEER_RATE > 0) extra.push('--download-rate', String(PEER_RATE), '--upload-rate', String(PEER_RATE));
  const startOne = async (): Promise<RunningPeer> => {
    for (let attempt = 1; ; attempt++) {
      const env: NodeJS.ProcessEnv = {};
      if (PROFILE_DIR) {
        env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${PROFILE_DIR} --cpu-prof-name=peer-${process.pid}-${profileCount++}.cpuprofile`;
      }
      try {
        return await startPeer({
          defaultRegistry: ORIGIN,
          endpoints: { [ORIGIN]: originUrl },
          schedulers: scheduler.multiaddrs,
          extraArgs: extra,
          env,
        });
      } catch (error) {
        // On a busy machine a start can miss the fixture's readiness timeout: try again.
        if (attempt >= 3) throw error;
        log(`  a peer did not start (${(error as Error).message.split('\n')[0]}); retrying`);
      }
    }
  };
  const peers: RunningPeer[] = [];
  try {
    // Two at a time: many Node processes starting at once on two cores are slow to get ready.
    for (let i = 0; i < NODES; i += 2) {
      const batch = await Promise.allSettled(Array.from({ length: Math.min(2, NODES - i) }, startOne));
      for (const s of batch) if (s.status === 'fulfilled') peers.push(s.value);
      const failed = batch.find((s) => s.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    return peers;
  } catch (error) {
    await Promise.all(peers.map((p) => p.stop().catch(() => {})));
    throw error;
  }
}

/** With --log-dir, everything a daemon prints goes to `<dir>/<name>.log` as well. */
function keepLog(daemon: Daemon, name: string): void {
  if (!LOG_DIR) return;
  const file = createWriteStream(join(LOG_DIR, `${name}.log`));
  file.write(daemon.output);
  daemon.child.stdout?.pipe(file, { end: false });
  daemon.child.stderr?.pipe(file, { end: false });
  void daemon.exited.then(() => file.end());
}

let shoalRunCount = 0;

async function runShoal(env: Env) {
  const runName = `run${++shoalRunCount}`;
  const { proxy } = env.origin;
  // startScheduler passes this process's environment on: profile it through NODE_OPTIONS for the spawn only.
  if (PROFILE_DIR) process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}`;
  const scheduler = await startScheduler({ extraArgs: [...args['scheduler-arg']] }).finally(() => {
    if (PROFILE_DIR) delete process.env.NODE_OPTIONS;
  });
  let peers: RunningPeer[] = [];
  try {
    keepLog(scheduler.daemon, `${runName}-scheduler`);
    peers = await startPeers(scheduler, proxy.url);
    for (const [i, peer] of peers.entries()) keepLog(peer.daemon, `${runName}-peer${i}`);
    await waitFor(
      'every peer registered',
      async () => (await scheduler.metric('shoal_scheduler_peers')) === NODES,
      {
        timeoutMs: 20_000,
      },
    );
    const settleSeconds = await waitForQuietMachine();
    log(`  swarm settled after ${settleSeconds} s`);
    const pids: Record<string, number> = { scheduler: scheduler.daemon.pid, registry: env.registry.pid };
    peers.forEach((p, i) => {
      pids[`peer${i}`] = p.daemon.pid;
    });
    const cpu = await watchCpu(pids);
    let clientBytes = 0;
    const t0 = performance.now();
    const startedAtMs = Date.now();
    const line = timeline(proxy, () => clientBytes, t0, env.image.totalBlobBytes, peers);
    const perNode = peers.map(() => 0);
    const settled = await Promise.allSettled(
      peers.map((peer, i) =>
        pull(peer.url, ORIGIN, env.image, t0, (n) => {
          clientBytes += n;
          perNode[i]! += n;
        }),
      ),
    );
    const errors = settled.flatMap((s, i) =>
      s.status === 'rejected' ? [`node ${i}: ${(s.reason as Error).message}`] : [],
    );
    if (errors.some((e) => e.includes('DIGEST MISMATCH'))) throw new Error(errors.join('\n'));
    if (errors.length > 0) {
      const afterSeconds = round((performance.now() - t0) / 1000, 2);
      const tl = await line.stop();
      await cpu.stop();
      return {
        failed: errors,
        afterSeconds,
        originEgressRatio: round(tl.originBytes / env.image.totalBlobBytes, 4),
        ...(await failureReport(peers, scheduler, perNode, settled)),
        warnings: logWarnings(peers, scheduler, startedAtMs),
        timeline: { columns: TIMELINE_COLUMNS, samples: tl.samples },
      };
    }
    const seconds = settled.map((s) => (s as PromiseFulfilledResult<PullTimes>).value);
    const tl = await line.stop();
    const used = await cpu.stop();
    const metrics = await swarmMetrics(peers, scheduler);
    const warnings = logWarnings(peers, scheduler, startedAtMs);
    // The kernel's high-water mark: each peer's peak resident memory over its whole life.
    const peakRssMB = await Promise.all(
      peers.map(async (p) => round(kibToMB(await procStatusKiB(p.daemon.pid, 'VmHWM').catch(() => 0)), 1)),
    );
    const times = nodeTimes(seconds);
    const peerCpu = peers.map((_, i) => used.perProcess[`peer${i}`] ?? 0);
    const totalCpu =
      peerCpu.reduce((a, b) => a + b, 0) + (used.perProcess.scheduler ?? 0) + used.benchSeconds;
    return {
      ...times,
      maxOverLowerBound: round(times.max / env.lowerBound),
      p50OverLowerBound: round(times.p50 / env.lowerBound),
      originEgressRatio: round(tl.originBytes / env.image.totalBlobBytes, 4),
      originEgressBytes: tl.originBytes,
      originDoneSeconds: tl.originDoneSeconds ?? null,
      cpuSeconds: {
        peers: round(
          peerCpu.reduce((a, b) => a + b, 0),
          2,
        ),
        perPeer: peerCpu,
        scheduler: used.perProcess.scheduler,
        registry: used.perProcess.registry,
        benchProcess: used.benchSeconds,
        swarmAndClientsPerCoreSecond: round(totalCpu / (used.wallSeconds * cpus().length)),
        machineBusy: used.machineBusy,
        /** used meanwhile by processes this benchmark did not start (other work on the machine) */
        otherProcesses: round(used.machineBusySeconds - totalCpu - (used.perProcess.registry ?? 0), 2),
      },
      peakRssMB: { max: Math.max(...peakRssMB), perPeer: peakRssMB },
      metrics,
      warnings,
      timeline: { columns: TIMELINE_COLUMNS, samples: tl.samples },
    };
  } finally {
    await Promise.all(peers.map((p) => p.stop().catch(() => {})));
    await scheduler.stop();
  }
}

/**
 * Warnings and errors the peers and the scheduler logged (JSON lines at level 40 and above):
 * counts by message, and the first few with their time from the common start.
 */
function logWarnings(peers: RunningPeer[], scheduler: RunningScheduler, startedAtMs: number) {
  const counts: Record<string, number> = {};
  const first: { seconds: number; who: string; msg: string; digest?: string }[] = [];
  const outputs = [
    ...peers.map((p, i) => [`peer${i}`, p.daemon.output] as const),
    ['scheduler', scheduler.daemon.output] as const,
  ];
  for (const [who, output] of outputs) {
    for (const line of output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as {
          level?: number;
          time?: number;
          msg?: string;
          digest?: string;
          err?: { message?: string };
        };
        if ((entry.level ?? 0) < 40) continue;
        const msg = `${entry.msg ?? '?'}${entry.err?.message ? ` (${entry.err.message})` : ''}`;
        const key = `${who === 'scheduler' ? 'scheduler' : 'peer'}: ${msg}`;
        counts[key] = (counts[key] ?? 0) + 1;
        if (entry.time !== undefined && entry.time >= startedAtMs) {
          first.push({
            seconds: round((entry.time - startedAtMs) / 1000, 2),
            who,
            msg,
            ...(entry.digest ? { digest: entry.digest.slice(0, 19) } : {}),
          });
        }
      } catch {}
    }
  }
  first.sort((a, b) => a.seconds - b.seconds);
  return { counts, first: first.slice(0, 40) };
}

/** What the swarm looked like when a pull failed: node outcomes, metrics, and the warnings peers logged. */
async function failureReport(
  peers: RunningPeer[],
  scheduler: RunningScheduler,
  perNode: number[],
  settled: PromiseSettledResult<PullTimes>[],
) {
  log(`  a shoal run failed; client bytes per node: ${perNode.join(', ')}`);
  const metrics = await swarmMetrics(peers, scheduler).catch((error: Error) => ({
    unavailable: error.message,
  }));
  const logTail = (output: string) =>
    output
      .trim()
      .split('\n')
      .filter((line) => line.length > 0)
      .slice(-20);
  return {
    nodes: settled.map((s, i) => ({
      seconds: s.status === 'fulfilled' ? round(s.value.seconds, 2) : null,
      blobSeconds: s.status === 'fulfilled' ? s.value.blobSeconds.map((b) => round(b, 2)) : null,
      clientBytes: perNode[i],
    })),
    metrics,
    peerLogs: Object.fromEntries(peers.map((p, i) => [`peer${i}`, logTail(p.daemon.output)])),
    schedulerLog: logTail(scheduler.daemon.output),
  };
}

type ShoalOutcome = Awaited<ReturnType<typeof runShoal>>;
type ShoalRun = Exclude<ShoalOutcome, { failed: string[] }>;
type ShoalFailure = Extract<ShoalOutcome, { failed: string[] }>;
type DirectRun = Awaited<ReturnType<typeof runDirect>>;

interface RunRecord {
  run: number;
  loadAverage1mAtStart: number;
  shoal: ShoalRun | undefined;
  /** a shoal run in which some node's pull failed (other than a digest mismatch, which aborts) */
  shoalFailure?: ShoalFailure;
  direct: DirectRun | undefined;
}

// ---------------------------------------------------------------------------------------------
// Main

/** The commit the peers and scheduler ran from, and the source files changed on top of it. */
async function codeState(): Promise<{ commit: string; uncommitted: string[] }> {
  const cwd = resolve(import.meta.dirname, '../..');
  try {
    const commit = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd })).stdout.trim();
    const status = (
      await run('git', ['status', '--porcelain', '--', 'packages', 'peer', 'scheduler'], { cwd })
    ).stdout;
    const uncommitted = status
      .split('\n')
      .map((line) => line.slice(3).trim())
      .filter((path) => path.endsWith('.ts') && !path.includes('/test/'));
    return { commit, uncommitted };
  } catch {
    return { commit: 'unknown', uncommitted: [] };
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  let registry: RunningRegistry | undefined;
  let origin: Origin | undefined;
  try {
    log(`building an image of uncompressed layers of ${LAYER_MIB.join(', ')} MiB`);
    const image = await benchImage(LAYER_MIB);
    registry = await startRegistry();
    await pushImage(registry.url, REPOSITORY, TAG, image, { timeoutMs: 600_000 });
    origin = args.netns ? await netnsOrigin(registry) : await proxyOrigin(registry);
    const S = image.totalBlobBytes;
    const bottleneck = Math.min(ORIGIN_RATE, PEER_RATE > 0 ? PEER_RATE : Number.POSITIVE_INFINITY);
    const lowerBound = S / bottleneck;
    const env: Env = { image, origin, registry, lowerBound };
    log(
      `${NODES} nodes, image ${(S / 1e6).toFixed(1)} MB, origin ${ORIGIN_RATE / 1e6} MB/s` +
        `${PEER_RATE > 0 ? `, peers ${PEER_RATE / 1e6} MB/s` : ''}: T_lb ${lowerBound.toFixed(2)} s`,
    );
    const runs: RunRecord[] = [];
    for (let i = 0; i < RUNS; i++) {
      const load = round(loadavg()[0]!, 2);
      const order = i % 2 === 0 ? (['shoal', 'direct'] as const) : (['direct', 'shoal'] as const);
      let shoal: ShoalRun | undefined;
      let shoalFailure: ShoalFailure | undefined;
      let direct: DirectRun | undefined;
      for (const section of order) {
        if (!ONLY.has(section)) continue;
        if (section === 'shoal') {
          const outcome = await runShoal(env);
          if ('failed' in outcome) {
            shoalFailure = outcome;
            log(`  run ${i + 1} shoal FAILED after ${outcome.afterSeconds} s: ${outcome.failed.join('; ')}`);
            continue;
          }
          shoal = outcome;
          log(
            `  run ${i + 1} shoal: p50 ${shoal.p50} s, max ${shoal.max} s (${shoal.maxOverLowerBound}x T_lb), ` +
              `origin ${shoal.originEgressRatio}x, origin done ${shoal.originDoneSeconds} s, ` +
              `peak peer RSS ${shoal.peakRssMB.max} MB, machine busy ${shoal.cpuSeconds.machineBusy}, other processes ${shoal.cpuSeconds.otherProcesses} CPU s, load ${load}`,
          );
        } else {
          direct = await runDirect(env);
          log(
            `  run ${i + 1} direct: p50 ${direct.p50} s, max ${direct.max} s, origin ${direct.originEgressRatio}x`,
          );
        }
      }
      runs.push({
        run: i + 1,
        loadAverage1mAtStart: load,
        shoal,
        ...(shoalFailure ? { shoalFailure } : {}),
        direct,
      });
    }
    const med = (pick: (r: RunRecord) => number | undefined) => {
      const values = runs.map(pick).filter((v): v is number => v !== undefined);
      return values.length ? round(median(values), 3) : undefined;
    };
    const summary = {
      shoal: ONLY.has('shoal')
        ? {
            p50Seconds: med((r) => r.shoal?.p50),
            maxSeconds: med((r) => r.shoal?.max),
            maxOverLowerBound: med((r) => r.shoal?.maxOverLowerBound),
            p50OverLowerBound: med((r) => r.shoal?.p50OverLowerBound),
            originEgressRatio: med((r) => r.shoal?.originEgressRatio),
            originDoneSeconds: med((r) => r.shoal?.originDoneSeconds ?? undefined),
            peersCpuSeconds: med((r) => r.shoal?.cpuSeconds.peers),
            peakPeerRssMB: med((r) => r.shoal?.peakRssMB.max),
            machineBusy: med((r) => r.shoal?.cpuSeconds.machineBusy),
            otherProcessesCpuSeconds: med((r) => r.shoal?.cpuSeconds.otherProcesses),
            completedRuns: runs.filter((r) => r.shoal).length,
            failedRuns: runs.filter((r) => r.shoalFailure).length,
          }
        : undefined,
      direct: ONLY.has('direct')
        ? {
            p50Seconds: med((r) => r.direct?.p50),
            maxSeconds: med((r) => r.direct?.max),
            maxOverLowerBound: med((r) => r.direct?.maxOverLowerBound),
          }
        : undefined,
      directOverShoal:
        ONLY.has('shoal') && ONLY.has('direct')
          ? {
              max: med((r) => (r.direct && r.shoal ? r.direct.max / r.shoal.max : undefined)),
              p50: med((r) => (r.direct && r.shoal ? r.direct.p50 / r.shoal.p50 : undefined)),
            }
          : undefined,
    };
    const result = {
      bench: 'rollout',
      command:
        `node bench/rollout/run.ts --nodes ${NODES} --origin-rate ${args['origin-rate']} --peer-rate ${args['peer-rate']}` +
        (args.layers ? ` --layers ${LAYER_MIB.join(',')}` : ` --image-mib ${IMAGE_MIB}`) +
        ` --runs ${RUNS} --only ${[...ONLY].join(',')}${args.netns ? ' --netns' : ''}` +
        args['peer-arg'].map((a) => ` --peer-arg=${a}`).join('') +
        args['scheduler-arg'].map((a) => ` --scheduler-arg=${a}`).join(''),
      date: new Date().toISOString(),
      code: await codeState(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        kernel: release(),
        node: process.version,
        loadAverage: {
          before: loadBefore.map((v) => round(v, 2)),
          after: loadavg().map((v) => round(v, 2)),
        },
        note: `all ${NODES} peers, the scheduler, the registry, the origin proxy and the ${NODES} clients share these CPUs`,
      },
      setup: {
        nodes: NODES,
        originCap: origin.how,
        originBytesPerSecond: ORIGIN_RATE,
        peerBytesPerSecond: PEER_RATE > 0 ? PEER_RATE : null,
        image: {
          digest: image.digest,
          blobBytes: S,
          blobs: image.blobs.map((b) => ({ kind: b.kind, size: b.size })),
        },
        lowerBoundSeconds: round(lowerBound, 3),
        lowerBound: 'T_lb = S / min(B_origin, B_peer); S = blob bytes of the image',
        client:
          'node:http per node: manifest by tag, then config and layers in parallel, sha256 of every body',
      },
      targets: {
        originEgressRatio: `<= ${TARGETS.originEgressRatio}`,
        maxOverLowerBound: `<= ${TARGETS.maxOverLowerBound}`,
      },
      pass: summary.shoal
        ? {
            everyRunCompleted: summary.shoal.failedRuns === 0,
            originEgressRatio:
              (summary.shoal.originEgressRatio ?? Number.POSITIVE_INFINITY) <= TARGETS.originEgressRatio,
            maxOverLowerBound:
              (summary.shoal.maxOverLowerBound ?? Number.POSITIVE_INFINITY) <= TARGETS.maxOverLowerBound,
          }
        : undefined,
      median: summary,
      runs,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (summary.shoal && summary.shoal.failedRuns > 0) process.exitCode = 1;
  } finally {
    await origin?.close();
    await registry?.stop();
    await removeFixtureCache();
  }
}

if (PROFILE_DIR) await mkdir(PROFILE_DIR, { recursive: true });
if (LOG_DIR) await mkdir(LOG_DIR, { recursive: true });
await main();
