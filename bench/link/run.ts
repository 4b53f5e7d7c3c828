/**
 * Link benchmark: one parent peer serves a cached blob to one child peer over
 * the real piece protocol, against the ceiling of the same machine measured in
 * the same run.
 *
 *   node bench/link/run.ts [--runs 3] [--size-mib 1024] [--only raw,stream,fetch,psk,serve] [--cpu-prof DIR]
 *                          [--peer-arg ARG]... [--peer-node-options OPTS] [--child-cpus LIST] [--parent-cpus LIST]
 *
 * fetch  a real `shoal scheduler` and two real `shoal peer` processes. The
 *        parent pulls the blob once from the distribution registry through its
 *        endpoint (so it is cached there); each run starts a fresh child and
 *        asks the scheduler to preheat an image whose one layer is the blob,
 *        on every peer: the scheduler assigns every piece from the parent, the
 *        child verifies each against the piece table, writes it and checks the
 *        whole digest. The time runs from the request to the job's success
 *        (polled every 10 ms). Each run checks that no byte came from the
 *        origin and hashes the blob the child stored. This is the link alone.
 * psk    fetch, in a private swarm: a second scheduler and parent, and each
 *        run's child, hold one swarm.key (--psk-file), so every byte is also
 *        XORed with XSalsa20 both ways and TLS runs in JavaScript over it. The
 *        report compares it with fetch (pskCost): what the PSK costs.
 * serve  the same, but curl GETs the blob through the child's endpoint (to
 *        /dev/null) and the time is curl's total: the link plus the child
 *        serving the blob over HTTP as it lands.
 * relay  a peer that serves one blob and downloads another at once: a fresh
 *        "middle" peer fills a second blob of the same size from the origin,
 *        then GETs the first (from the parent) while a fresh child GETs the
 *        second from it (curl, both at once). The figure is the middle's peak
 *        RSS while it does both; each transfer is checked as in serve.
 * raw    the ceiling: two Node processes, raw TCP over loopback; the sender
 *        reads the same file, the receiver hashes sha256 and writes a file
 *        (bench/link/baseline-transfer.ts). The time runs from the accepted
 *        connection to the closed file.
 * stream the same over one stream of shoal's libp2p node (TCP, TLS on the
 *        socket, yamux): what the transport alone costs, so the gap to the
 *        ceiling splits into transport and piece protocol + peer.
 *
 * Runs alternate the order of the sections. Also recorded: CPU seconds per GiB
 * of every process involved, and the peak RSS of both peers (VmRSS sampled
 * every 20 ms while the blob moves, and the kernel's VmHWM). --peer-arg
 * passes extra flags to both peers, --peer-node-options sets their
 * NODE_OPTIONS, --cpu-prof DIR profiles both peers. Progress goes to stderr,
 * the JSON result to stdout.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { request } from '../../test/fixtures/http.ts';
import { deterministicBytes, MediaTypes, pushBlob, pushManifest } from '../../test/fixtures/images.ts';
import { run } from '../../test/fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../../test/fixtures/registry.ts';
import {
  type RunningPeer,
  type RunningScheduler,
  startPeer,
  startScheduler,
} from '../../test/fixtures/shoal.ts';
import { log, machineFacts, positiveInt } from '../common.ts';
import {
  childrenCpuSeconds,
  cpuSeconds,
  type Figure,
  figure,
  kibToMB,
  median,
  procStatusKiB,
  round,
  rssMB,
  watchRss,
} from '../measure.ts';
import { baselineTransfer } from './baseline.ts';

const REPOSITORY = 'bench/link';
/** The tag of the image whose one layer is the blob: what a preheat job names. */
const TAG = 'v1';
const PREHEAT_POLL_MS = 10;
/** Bytes a child may take from the origin: the image's config, never the blob's pieces. */
const SMALL_BLOB_BYTES = 64 * 1024;
const TARGETS = { linkOverCeiling: 0.6, peakRssMB: 200 };
const SECTIONS = ['raw', 'stream', 'fetch', 'psk', 'serve', 'relay'] as const;
/** The sections that move the blob between peers of the open swarm. */
const PEER_SECTIONS: readonly Section[] = ['fetch', 'serve', 'relay'];
type Section = (typeof SECTIONS)[number];

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
    only: { type: 'string', default: SECTIONS.join(',') },
    'cpu-prof': { type: 'string' },
    'peer-arg': { type: 'string', multiple: true, default: [] },
    'peer-node-options': { type: 'string', default: '' },
    'child-cpus': { type: 'string' },
    'parent-cpus': { type: 'string' },
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
const PEER_ARGS = args['peer-arg'];
const PEER_NODE_OPTIONS = args['peer-node-options'];
/** CPUs (a taskset list, e.g. 0 or 0,1) each peer's threads run on; any CPU when unset. */
const CPUS: Record<string, string | undefined> = { child: args['child-cpus'], parent: args['parent-cpus'] };
for (const [role, list] of Object.entries(CPUS)) {
  if (list !== undefined && !/^\d+([,-]\d+)*$/.test(list)) {
    throw new Error(`--${role}-cpus expects a CPU list such as 0 or 0,1, got ${list}`);
  }
}
/** The child's download slots: the peer's default unless --peer-arg sets them. */
/** The child's download slots: --peer-arg=--download-slots=N, else the peer's default. */
const DOWNLOAD_SLOTS =
  Number(PEER_ARGS.find((arg) => arg.startsWith('--download-slots='))?.split('=')[1] ?? 6) || 6;

const mbps = (seconds: number) => SIZE / seconds / 1e6;
const perGiB = (cpu: number) => cpu / (SIZE / 2 ** 30);

interface Blob {
  digest: string;
  path: string;
  size: number;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), hash);
  return `sha256:${hash.digest('hex')}`;
}

async function makeBlob(dir: string, name = 'blob'): Promise<Blob> {
  const path = join(dir, `${name}.bin`);
  const hash = createHash('sha256');
  async function* hashed() {
    for await (const chunk of deterministicBytes(`${REPOSITORY}/${name}`, SIZE)) {
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(hashed, createWriteStream(path));
  return { digest: `sha256:${hash.digest('hex')}`, path, size: SIZE };
}

/** Pushes the blob, and an image whose one layer it is (tagged TAG), to the registry. */
async function pushBenchImage(registryUrl: string, blob: Blob, work: string): Promise<void> {
  await pushBlob(registryUrl, REPOSITORY, blob, { timeoutMs: 600_000 });
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [blob.digest] },
    }),
  );
  const config = { digest: sha256Of(configBytes), size: configBytes.length, path: join(work, 'config.json') };
  await writeFile(config.path, configBytes);
  await pushBlob(registryUrl, REPOSITORY, config);
  const descriptor = (mediaType: string, b: { digest: string; size: number }) => ({
    mediaType,
    digest: b.digest,
    size: b.size,
  });
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: descriptor(MediaTypes.ociConfig, config),
      layers: [descriptor(MediaTypes.ociLayerGzip, blob)],
    }),
  );
  await pushManifest(registryUrl, REPOSITORY, TAG, {
    digest: sha256Of(manifestBytes),
    mediaType: MediaTypes.ociManifest,
    bytes: manifestBytes,
  });
}

const sha256Of = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

// ---------------------------------------------------------------------------------------------
// raw: the ceiling

interface RawResult {
  mbps: number;
  receiverCpuPerGiB: number;
  senderCpuPerGiB: number;
}

/** One baseline transfer: raw TCP (the ceiling) or one libp2p stream (the transport alone). */
async function baselineRun(blob: Blob, work: string, transport: 'tcp' | 'libp2p'): Promise<RawResult> {
  const outFile = join(work, `${transport}-received.bin`);
  try {
    const received = await baselineTransfer(transport, blob.path, outFile);
    if (received.bytes !== SIZE || `sha256:${received.sha256}` !== blob.digest) {
      throw new Error(`${transport}: received ${received.bytes} bytes, sha256:${received.sha256}`);
    }
    return {
      mbps: mbps(received.seconds),
      receiverCpuPerGiB: perGiB(received.receiverCpuSeconds),
      senderCpuPerGiB: perGiB(received.senderCpuSeconds),
    };
  } finally {
    await rm(outFile, { force: true });
  }
}

/** Median and samples of each named field over the runs, rounded to the digits given for it. */
function figuresOf<R, K extends keyof R & string>(runs: R[], digits: Record<K, number>): Record<K, Figure> {
  const out = {} as Record<K, Figure>;
  for (const key of Object.keys(digits) as K[]) {
    out[key] = figure(
      runs.map((r) => Number(r[key])),
      digits[key],
    );
  }
  return out;
}

/** Medians and samples of a baseline's runs. */
const transferFigures = (runs: RawResult[]) =>
  figuresOf(runs, { mbps: 0, receiverCpuPerGiB: 2, senderCpuPerGiB: 2 });

// ---------------------------------------------------------------------------------------------
// piece: two real peers and a scheduler

interface Swarm {
  registry: RunningRegistry;
  scheduler: RunningScheduler;
  parent: RunningPeer;
  peers: Set<RunningPeer>;
  /** `--psk-file <swarm.key>` for a private swarm's nodes, else nothing */
  pskArgs: string[];
}

let profileCount = 0;

async function startBenchPeer(swarm: Omit<Swarm, 'parent'>, role: string): Promise<RunningPeer> {
  const options = [PEER_NODE_OPTIONS];
  if (PROFILE_DIR) {
    options.push(
      `--cpu-prof --cpu-prof-dir=${PROFILE_DIR} --cpu-prof-name=${role}-${process.pid}-${profileCount++}.cpuprofile`,
    );
  }
  const peer = await startPeer({
    endpoints: { [swarm.registry.host]: swarm.registry.url },
    defaultRegistry: swarm.registry.host,
    schedulers: swarm.scheduler.multiaddrs,
    extraArgs: [...swarm.pskArgs, ...PEER_ARGS],
    env: { NODE_OPTIONS: options.join(' ').trim() },
  });
  swarm.peers.add(peer);
  const cpus = CPUS[role];
  // Every thread of the daemon, and those it starts later (they inherit the mask).
  if (cpus !== undefined) await run('taskset', ['-a', '-cp', cpus, String(peer.daemon.pid)]);
  return peer;
}

async function stopBenchPeer(swarm: Swarm, peer: RunningPeer): Promise<void> {
  swarm.peers.delete(peer);
  await peer.stop();
}

async function waitForPeers(scheduler: RunningScheduler, count: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await scheduler.metric('shoal_scheduler_peers')) >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the scheduler did not see ${count} peers within 30 s`);
}

function blobUrl(base: string, digest: string): string {
  return `${base}/v2/${REPOSITORY}/blobs/${digest}`;
}

/** One GET with curl, body discarded; returns curl's total seconds. */
async function curlWhole(url: string, what: string): Promise<number> {
  const { stdout } = await run(
    'curl',
    ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url],
    {
      timeoutMs: 600_000,
    },
  );
  const [status, bytes, total] = stdout.trim().split(/\s+/).map(Number) as [number, number, number];
  if (status !== 200 || bytes !== SIZE) throw new Error(`${what}: HTTP ${status}, ${bytes} of ${SIZE} bytes`);
  return total;
}

interface PieceResult {
  mbps: number;
  parentCpuPerGiB: number;
  childCpuPerGiB: number;
  schedulerCpuPerGiB: number;
  clientCpuPerGiB: number;
  parentPeakMB: number;
  childPeakMB: number;
  childHwmMB: number;
  /** VmRSS of the child, started and registered, just before the GET. */
  childIdleMB: number;
  /** the parent's RSS as the run starts: what its own fill from the origin left */
  parentStartMB: number;
  fromPeersBytes: number;
  /** Share of the child's download slots' time spent fetching, verifying and writing a piece. */
  slotBusyShare: number;
  pieceMillis: number;
  /** Piece fetches of the child that failed (a parent busy or gone, a mismatch) and were asked again. */
  piecesFailed: number;
}

interface PreheatView {
  state: string;
  error?: string;
}

/** Preheats the image on every peer; returns the seconds from the request to the job's success. */
async function preheatWhole(scheduler: RunningScheduler, image: string): Promise<number> {
  const started = performance.now();
  const response = await request(`${scheduler.adminUrl}/api/v1/preheat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ image, scope: 'all' })),
  });
  if (response.status !== 202)
    throw new Error(`preheat: HTTP ${response.status} ${response.body.toString('utf8')}`);
  const { id } = JSON.parse(response.body.toString('utf8')) as { id: string };
  for (;;) {
    const polled = await request(`${scheduler.adminUrl}/api/v1/preheat/${id}`);
    const view = JSON.parse(polled.body.toString('utf8')) as PreheatView;
    if (view.state === 'succeeded') return (performance.now() - started) / 1000;
    if (view.state === 'failed') throw new Error(`preheat failed: ${view.error ?? 'no reason given'}`);
    await new Promise((r) => setTimeout(r, PREHEAT_POLL_MS));
  }
}

/** A fresh child takes the blob from the parent: on a preheat job (fetch) or for curl's GET (serve). */
async function pieceRun(swarm: Swarm, blob: Blob, section: Section): Promise<PieceResult> {
  const child = await startBenchPeer(swarm, 'child');
  try {
    await waitForPeers(swarm.scheduler, 2);
    const parentPid = swarm.parent.daemon.pid;
    const childPid = child.daemon.pid;
    log(
      `  parent pid ${parentPid}, child pid ${childPid}: ${section === 'serve' ? 'child GETs the blob' : 'preheat'}`,
    );
    const childIdleMB = await rssMB(childPid);
    const parentStartMB = await rssMB(parentPid);
    const schedulerPid = swarm.scheduler.daemon.pid;
    const cpuBefore = [
      await cpuSeconds(parentPid),
      await cpuSeconds(childPid),
      await cpuSeconds(schedulerPid),
    ];
    const watches = [watchRss(parentPid), watchRss(childPid)];
    const clientCpuBefore = await childrenCpuSeconds();
    const moved =
      section === 'serve'
        ? curlWhole(blobUrl(child.url, blob.digest), 'child GET')
        : preheatWhole(swarm.scheduler, `${swarm.registry.host}/${REPOSITORY}:${TAG}`);
    const seconds = await moved.catch((error: Error) => {
      const logs = (peer: RunningPeer) =>
        `${peer.daemon.exitError()?.message.split('\n')[0] ?? 'running'}\n${peer.daemon.output.split('\n').slice(-30).join('\n')}`;
      throw new Error(
        `${error.message}\n--- child log ---\n${logs(child)}\n--- parent log ---\n${logs(swarm.parent)}`,
      );
    });
    const clientCpu = (await childrenCpuSeconds()) - clientCpuBefore;
    const [parentRss, childRss] = await Promise.all(watches.map((w) => w.stop()));
    const cpuAfter = [
      await cpuSeconds(parentPid),
      await cpuSeconds(childPid),
      await cpuSeconds(schedulerPid),
    ];
    const fromOrigin = await child.metric('shoal_downloaded_bytes_total', { source: 'origin' });
    const fromPeers = await child.metric('shoal_downloaded_bytes_total', { source: 'peer' });
    const fetchSeconds = await child.metric('shoal_piece_fetch_duration_seconds_sum');
    const fetches = await child.metric('shoal_piece_fetch_duration_seconds_count');
    const piecesFailed =
      (await child.metric('shoal_pieces_total', { result: 'unavailable' })) +
      (await child.metric('shoal_pieces_total', { result: 'mismatch' }));
    // A preheat also fetches the image's small config blob, which may come from the origin.
    if (fromOrigin > SMALL_BLOB_BYTES || fromPeers < SIZE) {
      throw new Error(`the child took ${fromOrigin} bytes from the origin and ${fromPeers} from peers`);
    }
    const stored = await sha256File(
      join(child.dataDir, 'blobs', 'sha256', blob.digest.slice('sha256:'.length)),
    );
    if (stored !== blob.digest) throw new Error(`the child stored ${stored}, expected ${blob.digest}`);
    return {
      mbps: mbps(seconds),
      parentCpuPerGiB: perGiB(cpuAfter[0]! - cpuBefore[0]!),
      childCpuPerGiB: perGiB(cpuAfter[1]! - cpuBefore[1]!),
      schedulerCpuPerGiB: perGiB(cpuAfter[2]! - cpuBefore[2]!),
      clientCpuPerGiB: perGiB(clientCpu),
      parentPeakMB: parentRss!.sampledPeakMB,
      childPeakMB: childRss!.sampledPeakMB,
      childHwmMB: childRss!.hwmMB,
      childIdleMB,
      parentStartMB,
      fromPeersBytes: fromPeers,
      slotBusyShare: fetchSeconds / (DOWNLOAD_SLOTS * seconds),
      pieceMillis: (fetchSeconds / fetches) * 1000,
      piecesFailed,
    };
  } finally {
    await stopBenchPeer(swarm, child);
  }
}

/** Medians and samples of one peer section's runs, with its share of the ceiling. */
function peerFigures(runs: PieceResult[], what: string, ceilingMBps: number) {
  const worstPeak = Math.max(...runs.flatMap((r) => [r.parentPeakMB, r.childHwmMB]));
  return {
    what,
    ...figuresOf(runs, {
      mbps: 0,
      parentCpuPerGiB: 2,
      childCpuPerGiB: 2,
      schedulerCpuPerGiB: 2,
      clientCpuPerGiB: 2,
    }),
    ...(Number.isNaN(ceilingMBps)
      ? {}
      : { overCeiling: round(median(runs.map((r) => r.mbps)) / ceilingMBps) }),
    fromPeersBytes: runs.map((r) => r.fromPeersBytes),
    ...figuresOf(runs, { slotBusyShare: 2 }),
    pieceMillis: figure(runs.map((r) => r.pieceMillis)),
    piecesFailed: runs.map((r) => r.piecesFailed),
    peakRssMB: {
      parentSampled: figure(runs.map((r) => r.parentPeakMB)),
      childSampled: figure(runs.map((r) => r.childPeakMB)),
      childHwm: figure(runs.map((r) => r.childHwmMB)),
      childIdle: figure(runs.map((r) => r.childIdleMB)),
      parentAtStart: figure(runs.map((r) => r.parentStartMB)),
      target: `< ${TARGETS.peakRssMB}`,
      pass: worstPeak < TARGETS.peakRssMB,
    },
  };
}

/** A scheduler and a parent peer that preheated the image from the registry (holding the blob). */
async function startBenchSwarm(
  registry: RunningRegistry,
  peers: Set<RunningPeer>,
  pskArgs: string[],
): Promise<Swarm> {
  const scheduler = await startScheduler({
    extraArgs: [...pskArgs, '--registry-endpoint', `${registry.host}=${registry.url}`],
  });
  const base = { registry, scheduler, peers, pskArgs };
  const parent = await startBenchPeer(base, 'parent');
  await waitForPeers(scheduler, 1);
  log(`${pskArgs.length ? 'private swarm: ' : ''}parent preheats the image from the registry`);
  await preheatWhole(scheduler, `${registry.host}/${REPOSITORY}:${TAG}`);
  return { ...base, parent };
}

/** What the private swarm's link costs against the open one's (medians). */
function pskCost(open: PieceResult[], closed: PieceResult[]) {
  const at = (runs: PieceResult[], key: 'mbps' | 'parentCpuPerGiB' | 'childCpuPerGiB') =>
    median(runs.map((r) => r[key]));
  return {
    what: 'psk against fetch: throughput share, and extra CPU seconds per GiB on each side',
    mbpsShare: round(at(closed, 'mbps') / at(open, 'mbps')),
    parentExtraCpuPerGiB: round(at(closed, 'parentCpuPerGiB') - at(open, 'parentCpuPerGiB'), 2),
    childExtraCpuPerGiB: round(at(closed, 'childCpuPerGiB') - at(open, 'childCpuPerGiB'), 2),
  };
}

interface RelayResult {
  /** the middle's download of the first blob from the parent, and the child's of the second from the middle */
  downMBps: number;
  upMBps: number;
  /** the middle's CPU seconds per GiB it moved (downloaded plus served) */
  middleCpuPerGiB: number;
  middlePeakMB: number;
  middleHwmMB: number;
  /** the middle's RSS with the second blob filled, just before it starts serving and downloading */
  middleStartMB: number;
  childHwmMB: number;
}

/** A fresh middle peer serves `second` (which it filled from the origin) and downloads `first` at once. */
async function relayRun(swarm: Swarm, first: Blob, second: Blob): Promise<RelayResult> {
  const middle = await startBenchPeer(swarm, 'middle');
  const child = await startBenchPeer(swarm, 'child');
  try {
    await waitForPeers(swarm.scheduler, 3);
    const middlePid = middle.daemon.pid;
    log(
      `  middle pid ${middlePid}, child pid ${child.daemon.pid}: middle fills the second blob from the origin`,
    );
    await curlWhole(blobUrl(middle.url, second.digest), 'middle fill');
    const middleStartMB = await rssMB(middlePid);
    const cpuBefore = await cpuSeconds(middlePid);
    const watch = watchRss(middlePid);
    const [down, up] = await Promise.all([
      curlWhole(blobUrl(middle.url, first.digest), 'middle GET'),
      curlWhole(blobUrl(child.url, second.digest), 'child GET'),
    ]);
    const rss = await watch.stop();
    const middleCpu = (await cpuSeconds(middlePid)) - cpuBefore;
    // Both blobs moved between peers: the first from the parent, the second from the middle.
    for (const [peer, what] of [
      [middle, 'middle'],
      [child, 'child'],
    ] as const) {
      const fromPeers = await peer.metric('shoal_downloaded_bytes_total', { source: 'peer' });
      if (fromPeers < SIZE) throw new Error(`the ${what} took only ${fromPeers} bytes from peers`);
    }
    if ((await child.metric('shoal_downloaded_bytes_total', { source: 'origin' })) > 0) {
      throw new Error('the child took bytes of the second blob from the origin');
    }
    for (const [peer, blob] of [
      [middle, first],
      [child, second],
    ] as const) {
      const stored = await sha256File(
        join(peer.dataDir, 'blobs', 'sha256', blob.digest.slice('sha256:'.length)),
      );
      if (stored !== blob.digest) throw new Error(`a peer stored ${stored}, expected ${blob.digest}`);
    }
    return {
      downMBps: mbps(down),
      upMBps: mbps(up),
      middleCpuPerGiB: perGiB(middleCpu) / 2,
      middlePeakMB: rss.sampledPeakMB,
      middleHwmMB: rss.hwmMB,
      middleStartMB,
      childHwmMB: kibToMB(await procStatusKiB(child.daemon.pid, 'VmHWM')),
    };
  } finally {
    await stopBenchPeer(swarm, child);
    await stopBenchPeer(swarm, middle);
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'shoal-bench-link-'));
  if (PROFILE_DIR) await mkdir(PROFILE_DIR, { recursive: true });
  const loadBefore = loadavg()[0]!;
  const peers = new Set<RunningPeer>();
  let registry: RunningRegistry | undefined;
  const schedulers: RunningScheduler[] = [];
  try {
    log(`writing a ${SIZE_MIB} MiB blob`);
    const blob = await makeBlob(work);
    const second = ONLY.has('relay') ? await makeBlob(work, 'second') : undefined;
    let swarm: Swarm | undefined;
    let privateSwarm: Swarm | undefined;
    if ([...PEER_SECTIONS, 'psk'].some((section) => ONLY.has(section))) {
      // A peer started and stopped once leaves Node's compile cache warm (written at exit), as the
      // container image ships it: otherwise the first child, started while the parent still runs,
      // loads the TypeScript stripper and idles ~15 MB higher than every later one.
      await (await startPeer({})).stop();
      registry = await startRegistry();
      await pushBenchImage(registry.url, blob, work);
      if (second) await pushBlob(registry.url, REPOSITORY, second, { timeoutMs: 600_000 });
      if (PEER_SECTIONS.some((section) => ONLY.has(section))) {
        swarm = await startBenchSwarm(registry, peers, []);
        schedulers.push(swarm.scheduler);
      }
      if (ONLY.has('psk')) {
        const keyFile = join(work, 'swarm.key');
        await writeFile(keyFile, `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`);
        privateSwarm = await startBenchSwarm(registry, peers, ['--psk-file', keyFile]);
        schedulers.push(privateSwarm.scheduler);
      }
    }
    const raw: RawResult[] = [];
    const stream: RawResult[] = [];
    const fetched: PieceResult[] = [];
    const privateFetched: PieceResult[] = [];
    const served: PieceResult[] = [];
    const relayed: RelayResult[] = [];
    for (let i = 0; i < RUNS; i++) {
      const order: Section[] = i % 2 === 0 ? [...SECTIONS] : [...SECTIONS].reverse();
      for (const section of order) {
        if (!ONLY.has(section)) continue;
        if (section === 'raw' || section === 'stream') {
          const r = await baselineRun(blob, work, section === 'raw' ? 'tcp' : 'libp2p');
          (section === 'raw' ? raw : stream).push(r);
          log(
            `  run ${i + 1} ${section}: ${r.mbps.toFixed(0)} MB/s, receiver ${r.receiverCpuPerGiB.toFixed(2)} ` +
              `sender ${r.senderCpuPerGiB.toFixed(2)} CPU s/GiB`,
          );
        } else if (section === 'relay') {
          const r = await relayRun(swarm!, blob, second!);
          relayed.push(r);
          log(
            `  run ${i + 1} relay: middle down ${r.downMBps.toFixed(0)} MB/s, up ${r.upMBps.toFixed(0)} MB/s, ` +
              `${r.middleCpuPerGiB.toFixed(2)} CPU s per GiB moved, peak RSS ${r.middlePeakMB.toFixed(1)} MB ` +
              `(VmHWM ${r.middleHwmMB.toFixed(1)}, at start ${r.middleStartMB.toFixed(1)}), child VmHWM ${r.childHwmMB.toFixed(1)}`,
          );
        } else {
          const r = await pieceRun(section === 'psk' ? privateSwarm! : swarm!, blob, section);
          ({ fetch: fetched, psk: privateFetched, serve: served })[section].push(r);
          log(
            `  run ${i + 1} ${section}: ${r.mbps.toFixed(0)} MB/s, CPU s/GiB parent ${r.parentCpuPerGiB.toFixed(2)} ` +
              `child ${r.childCpuPerGiB.toFixed(2)} scheduler ${r.schedulerCpuPerGiB.toFixed(2)} curl ${r.clientCpuPerGiB.toFixed(2)}, slots busy ${(r.slotBusyShare * 100).toFixed(0)}%, ` +
              `${r.pieceMillis.toFixed(0)} ms per piece, ${r.piecesFailed} failed, peak RSS parent ${r.parentPeakMB.toFixed(1)} MB ` +
              `(at start ${r.parentStartMB.toFixed(1)}) child ${r.childPeakMB.toFixed(1)} MB (VmHWM ${r.childHwmMB.toFixed(1)}, idle ${r.childIdleMB.toFixed(1)})`,
          );
        }
      }
    }
    const rawMBps = median(raw.map((r) => r.mbps));
    const streamMBps = median(stream.map((r) => r.mbps));
    // The figure is the link alone (fetch); serve adds the child's HTTP client.
    const headline = fetched.length ? fetched : served;
    const ratio = median(headline.map((r) => r.mbps)) / rawMBps;
    const result = {
      bench: 'link',
      command:
        `node bench/link/run.ts --runs ${RUNS} --size-mib ${SIZE_MIB} --only ${[...ONLY].join(',')}` +
        PEER_ARGS.map((a) => ` --peer-arg=${a}`).join('') +
        (PEER_NODE_OPTIONS ? ` --peer-node-options='${PEER_NODE_OPTIONS}'` : '') +
        Object.entries(CPUS)
          .map(([role, list]) => (list === undefined ? '' : ` --${role}-cpus ${list}`))
          .join(''),
      date: new Date().toISOString(),
      machine: machineFacts(loadBefore),
      blob: { bytes: SIZE, digest: blob.digest },
      runs: RUNS,
      units: { throughput: 'MB/s (1e6 bytes/s)', cpu: 'CPU s per GiB moved', rss: 'MB (1e6 bytes)' },
      ...(raw.length
        ? {
            ceiling: {
              what: 'raw TCP between two Node processes, receiver hashes sha256 and writes a file',
              ...transferFigures(raw),
            },
          }
        : {}),
      ...(stream.length
        ? {
            transport: {
              what:
                "one stream of shoal's libp2p node (TCP, TLS on the socket, yamux) between two Node processes, " +
                'receiver hashes sha256 and writes a file: the transport without the piece protocol',
              ...transferFigures(stream),
              ...(raw.length ? { overCeiling: round(median(stream.map((r) => r.mbps)) / rawMBps) } : {}),
              ...(headline.length
                ? { linkOverTransport: round(median(headline.map((r) => r.mbps)) / streamMBps) }
                : {}),
            },
          }
        : {}),
      ...(fetched.length
        ? {
            link: peerFigures(
              fetched,
              'a preheat job on every peer: the child fetches the blob, every piece from the parent peer, verifies and writes it',
              rawMBps,
            ),
          }
        : {}),
      ...(privateFetched.length
        ? {
            linkPsk: peerFigures(
              privateFetched,
              'as link, in a private swarm (swarm.key on every node: XSalsa20 under TLS, both ways)',
              rawMBps,
            ),
          }
        : {}),
      ...(privateFetched.length && fetched.length ? { pskCost: pskCost(fetched, privateFetched) } : {}),
      ...(served.length
        ? {
            linkServed: peerFigures(
              served,
              "curl GETs the blob through the child peer's endpoint, every piece from the parent peer",
              rawMBps,
            ),
          }
        : {}),
      ...(relayed.length
        ? {
            relay: {
              what: 'a peer serves one blob to a child and downloads another from the parent at once (curl GETs through both)',
              ...figuresOf(relayed, { downMBps: 0, upMBps: 0, middleCpuPerGiB: 2 }),
              peakRssMB: {
                middleSampled: figure(relayed.map((r) => r.middlePeakMB)),
                middleHwm: figure(relayed.map((r) => r.middleHwmMB)),
                middleAtStart: figure(relayed.map((r) => r.middleStartMB)),
                childHwm: figure(relayed.map((r) => r.childHwmMB)),
                target: `< ${TARGETS.peakRssMB}`,
                pass: Math.max(...relayed.map((r) => r.middlePeakMB)) < TARGETS.peakRssMB,
              },
            },
          }
        : {}),
      ...(raw.length && headline.length
        ? {
            ratio: round(ratio),
            target: `>= ${TARGETS.linkOverCeiling}`,
            pass: ratio >= TARGETS.linkOverCeiling,
          }
        : {}),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const peer of peers) await peer.stop().catch(() => {});
    for (const scheduler of schedulers) await scheduler.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
