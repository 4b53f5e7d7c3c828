/**
 * The soak: a scheduler and three peers under a steady mixed load for a long
 * time, sampled at intervals, to see whether memory, file descriptors or
 * streams grow. Shared by `bench/soak/run.ts` (30 minutes) and a short
 * end-to-end test.
 */

import { readdir, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '../../test/fixtures/http.ts';
import {
  type BlobDescription,
  type ImageDescription,
  layeredImage,
  pushImage,
} from '../../test/fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../../test/fixtures/registry.ts';
import { type RunningPeer, startPeer, sumSamples } from '../../test/fixtures/shoal.ts';
import { streamGet } from '../../test/fixtures/stream-get.ts';
import { type BlobOutcome, type Swarm, startSwarm, stopSwarm } from '../../test/fixtures/swarm.ts';
import { log } from '../common.ts';
import { kibToMB, procStatusKiB, type RssByKind, round, rssByKind } from '../measure.ts';

const MiB = 1024 * 1024;
const REQUEST_DEADLINE_MS = 60_000;
/** A client going away waits at most this long: behind a cold download it would otherwise stall the loop. */
const DISCONNECT_PATIENCE_MS = 3_000;
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json';

export interface SoakOptions {
  minutes: number;
  sampleEveryMs: number;
  /** One peer is restarted this often. */
  restartEveryMs: number;
  /** Samples before this are warm-up, left out of the trend. */
  warmupMs: number;
  /** Images in rotation; the peers' caches hold about half of them, so pulls are cached and cold. */
  images?: number;
  /** Environment for peer1 only: an A/B of a setting against peer0 under the same load. */
  peer1Env?: Record<string, string>;
}

export interface ProcessSample {
  pid: number;
  rssMB: number;
  /** where the RSS lies: native small allocations, anonymous mappings, files */
  rssByKind: RssByKind;
  heapMB: number;
  /** V8's external memory (Buffers' bytes among it), outside the JavaScript heap */
  externalMB: number;
  fds: number;
  streams: number;
}

export interface SoakSample {
  atMinute: number;
  processes: Record<string, ProcessSample>;
}

export interface SoakResult {
  minutes: number;
  pulls: { sequential: number; concurrent: number; disconnects: number };
  /** Blob GETs by outcome: whole and right, cut off (a peer restarting, a client going away), wrong (never). */
  blobs: Record<BlobOutcome, number>;
  /** Manifest GETs that answered 200 with the wrong bytes (never) or not 200 (a peer restarting). */
  manifests: { ok: number; wrong: number; failed: number };
  restarts: number;
  samples: SoakSample[];
  /** Least-squares slope of RSS after warm-up, MB per hour, per process never restarted. */
  rssSlopeMBPerHour: Record<string, number>;
  heapSlopeMBPerHour: Record<string, number>;
  /** Range after warm-up, per process. */
  fds: Record<string, { min: number; max: number }>;
  streams: Record<string, { min: number; max: number }>;
}

/** Slope of the least-squares line through the points. */
export function leastSquaresSlope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function sampleProcess(pid: number, adminUrl: string): Promise<ProcessSample> {
  const [rssKiB, byKind, fds, metrics] = await Promise.all([
    procStatusKiB(pid, 'VmRSS'),
    rssByKind(pid),
    readdir(`/proc/${pid}/fd`).then((list) => list.length),
    request(`${adminUrl}/metrics`, { timeoutMs: 10_000 }).then((r) => r.body.toString('utf8')),
  ]);
  return {
    pid,
    rssMB: round(kibToMB(rssKiB), 1),
    rssByKind: byKind,
    heapMB: round(sumSamples(metrics, 'nodejs_heap_size_used_bytes') / 1e6, 1),
    externalMB: round(sumSamples(metrics, 'nodejs_external_memory_bytes') / 1e6, 1),
    fds,
    streams: sumSamples(metrics, 'libp2p_protocol_streams'),
  };
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const imageCount = options.images ?? 6;
  let registry: RunningRegistry | undefined;
  let swarm: Swarm | undefined;
  const extraDataDirs: string[] = [];
  try {
    registry = await startRegistry();
    const images: ImageDescription[] = [];
    for (let i = 0; i < imageCount; i++) {
      const image = await layeredImage([3 * MiB, 1 * MiB], `soak-${i}`);
      await pushImage(registry.url, `soak/image${i}`, 'v1', image);
      images.push(image);
    }
    const imageBytes = images[0]!.totalBlobBytes;
    swarm = await startSwarm({
      originHost: registry.host,
      count: 3,
      // About half the rotation fits: pulls are cached, from peers, and from the origin.
      peerArgs: ['--cache-size', String(Math.ceil((imageBytes * imageCount) / 2 / 0.9))],
      peer: (index) => (index === 1 && options.peer1Env ? { env: options.peer1Env } : {}),
    });
    const peers = swarm.peers;
    const restarting = new Set<number>();
    const available = () => peers.filter((_, i) => !restarting.has(i));
    const result: SoakResult = {
      minutes: options.minutes,
      pulls: { sequential: 0, concurrent: 0, disconnects: 0 },
      blobs: { exact: 0, cut: 0, wrong: 0 },
      manifests: { ok: 0, wrong: 0, failed: 0 },
      restarts: 0,
      samples: [],
      rssSlopeMBPerHour: {},
      heapSlopeMBPerHour: {},
      fds: {},
      streams: {},
    };
    const started = Date.now();
    const deadline = started + options.minutes * 60_000;
    const running = () => Date.now() < deadline;
    let rotation = 0;
    const nextImage = () => {
      const index = rotation++ % imageCount;
      return { repo: `soak/image${index}`, image: images[index]! };
    };

    // Every request has a deadline of its own (streamGet's is absolute, not an idle timeout).
    async function pullManifest(peer: RunningPeer, repo: string, image: ImageDescription): Promise<void> {
      const res = await streamGet(`${peer.url}/v2/${repo}/manifests/v1`, {
        headers: { accept: MANIFEST_ACCEPT },
        keepBody: true,
        timeoutMs: REQUEST_DEADLINE_MS,
      });
      if (res.status !== 200 || !res.complete) result.manifests.failed++;
      else if (res.body?.equals(image.bytes)) result.manifests.ok++;
      else result.manifests.wrong++;
    }

    async function pullBlob(peer: RunningPeer, repo: string, blob: BlobDescription): Promise<BlobOutcome> {
      const res = await streamGet(`${peer.url}/v2/${repo}/blobs/${blob.digest}`, {
        timeoutMs: REQUEST_DEADLINE_MS,
      });
      if (res.status !== 200 || !res.complete || res.error) return 'cut';
      return res.digest === blob.digest ? 'exact' : 'wrong';
    }

    async function pullImage(peer: RunningPeer, repo: string, image: ImageDescription, concurrent: boolean) {
      await pullManifest(peer, repo, image);
      const outcomes = concurrent
        ? await Promise.all(image.blobs.map((blob) => pullBlob(peer, repo, blob)))
        : [];
      if (!concurrent) {
        for (const blob of image.blobs) outcomes.push(await pullBlob(peer, repo, blob));
      }
      for (const outcome of outcomes) result.blobs[outcome]++;
    }

    const sequential = async () => {
      while (running()) {
        const { repo, image } = nextImage();
        await pullImage(pick(available()), repo, image, false);
        result.pulls.sequential++;
      }
    };
    const concurrent = async () => {
      while (running()) {
        const { repo, image } = nextImage();
        await Promise.all(available().map((peer) => pullImage(peer, repo, image, true)));
        result.pulls.concurrent++;
      }
    };
    const disconnecting = async () => {
      while (running()) {
        const { repo, image } = nextImage();
        const blob = pick(image.blobs);
        await streamGet(`${pick(available()).url}/v2/${repo}/blobs/${blob.digest}`, {
          abortAfterBytes: 1 + Math.floor(Math.random() * (blob.size - 1)),
          timeoutMs: 200 + Math.floor(Math.random() * (DISCONNECT_PATIENCE_MS - 200)),
        });
        result.pulls.disconnects++;
        await sleep(200);
      }
    };
    const restarter = async () => {
      const index = peers.length - 1;
      while (running()) {
        await sleep(Math.min(options.restartEveryMs, Math.max(0, deadline - Date.now())));
        if (!running()) return;
        const old = peers[index]!;
        restarting.add(index);
        await old.daemon.stop();
        extraDataDirs.push(old.dataDir);
        peers[index] = await startPeer({
          defaultRegistry: 'registry.invalid:5000',
          endpoints: { 'registry.invalid:5000': swarm!.proxy.url },
          schedulers: swarm!.scheduler.multiaddrs,
          dataDir: old.dataDir,
          extraArgs: ['--cache-size', String(Math.ceil((imageBytes * imageCount) / 2 / 0.9))],
        });
        restarting.delete(index);
        result.restarts++;
        log(`restarted peer ${index}`);
      }
    };
    const sampler = async () => {
      for (let n = 0; ; n++) {
        const processes: Record<string, ProcessSample> = {
          scheduler: await sampleProcess(swarm!.scheduler.daemon.pid, swarm!.scheduler.adminUrl),
        };
        for (const [i, peer] of peers.entries()) {
          if (restarting.has(i)) continue;
          processes[`peer${i}`] = await sampleProcess(peer.daemon.pid, peer.adminUrl).catch(() => undefined!);
        }
        const sample = { atMinute: round((Date.now() - started) / 60_000, 2), processes };
        result.samples.push(sample);
        log(`sample ${JSON.stringify(sample)}`);
        const wait = started + (n + 1) * options.sampleEveryMs - Date.now();
        if (Date.now() + wait > deadline + 1000) return;
        await sleep(Math.max(0, wait));
      }
    };
    await Promise.all([sequential(), sequential(), concurrent(), disconnecting(), restarter(), sampler()]);

    // Trends after warm-up, per process that ran the whole time (the restarted peer starts over each time).
    const steady = result.samples.filter((s) => s.atMinute * 60_000 >= options.warmupMs);
    const names = ['scheduler', ...peers.slice(0, -1).map((_, i) => `peer${i}`)];
    for (const name of names) {
      const points = steady.flatMap((s) =>
        s.processes[name] ? [{ t: s.atMinute / 60, p: s.processes[name]! }] : [],
      );
      result.rssSlopeMBPerHour[name] = round(
        leastSquaresSlope(points.map(({ t, p }) => ({ x: t, y: p.rssMB }))),
        1,
      );
      result.heapSlopeMBPerHour[name] = round(
        leastSquaresSlope(points.map(({ t, p }) => ({ x: t, y: p.heapMB }))),
        1,
      );
      result.fds[name] = {
        min: Math.min(...points.map(({ p }) => p.fds)),
        max: Math.max(...points.map(({ p }) => p.fds)),
      };
      result.streams[name] = {
        min: Math.min(...points.map(({ p }) => p.streams)),
        max: Math.max(...points.map(({ p }) => p.streams)),
      };
    }
    for (const [i, peer] of peers.entries()) {
      if (peer.daemon.hasExited) throw new Error(`peer ${i} exited:\n${peer.daemon.output.slice(-4000)}`);
    }
    return result;
  } finally {
    if (swarm) await stopSwarm(swarm).catch(() => {});
    for (const dir of extraDataDirs) await rm(dir, { recursive: true, force: true });
    await registry?.stop();
  }
}
