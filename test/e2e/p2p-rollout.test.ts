import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pieceSizeFor } from '@shoal/protocol';
import {
  ctrContentDigests,
  ctrImageDigest,
  ctrPull,
  ociLayoutDigests,
  type RunningContainerd,
  skopeoCopyToOci,
  startContainerd,
  writeHostsToml,
  writeRegistriesConf,
} from '../fixtures/clients.ts';
import { type ImageDescription, layeredImage, pushImage, rolloutImage } from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import type { RunningPeer, RunningScheduler } from '../fixtures/shoal.ts';
import { assertPeersAlive, SWARM_ORIGIN, startSwarm } from '../fixtures/swarm.ts';
import type { TcpProxy } from '../fixtures/tcp-proxy.ts';

/** The name clients use for the origin; it does not resolve, so only the mirrors can answer. */
const ORIGIN = SWARM_ORIGIN;
const MiB = 1024 * 1024;

const VARIANTS: {
  title: string;
  peers: number;
  image: () => Promise<ImageDescription>;
  psk: boolean;
  /** extra scheduler flags */
  schedulerArgs: string[];
  /** whether assignments should come as leases of several pieces */
  leases: boolean;
}[] = [
  {
    // A swarm this small gets one piece per assignment (--lease-min-peers).
    title: 'six peers pull one image at the same moment, one piece per assignment',
    peers: 6,
    image: () => rolloutImage(),
    psk: false,
    schedulerArgs: [],
    leases: false,
  },
  {
    // The swarm.key protection under the load that used to crash it: four peers, a 100 MiB blob.
    // Its scheduler hands out leases (of the default size) however few the peers.
    title:
      'a private swarm (pre-shared key), leases of several pieces: four peers pull a 100 MiB layer at once',
    peers: 4,
    image: () => layeredImage([100 * MiB], 'psk-rollout'),
    psk: true,
    schedulerArgs: ['--lease-min-peers', '1'],
    leases: true,
  },
];

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

for (const variant of VARIANTS) {
  const peerCount = variant.peers;
  describe(`a rollout through the swarm: ${variant.title}`, { timeout: 300_000 }, () => {
    let work = '';
    let registry: RunningRegistry | undefined;
    let proxy: TcpProxy | undefined;
    let scheduler: RunningScheduler | undefined;
    let containerd: RunningContainerd | undefined;
    const peers: RunningPeer[] = [];
    let image: ImageDescription;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'shoal-e2e-rollout-'));
      [registry, image] = await Promise.all([startRegistry(), variant.image()]);
      await pushImage(registry.url, 'rollout/app', 'v1', image);
      // Every byte the origin sends passes through the swarm's proxy, which counts them;
      // every peer has registered when it is returned.
      const swarm = await startSwarm({
        originHost: registry.host,
        count: peerCount,
        originRate: 40e6,
        psk: variant.psk,
        schedulerArgs: () => variant.schedulerArgs,
      });
      ({ proxy, scheduler } = swarm);
      peers.push(...swarm.peers);
      containerd = await startContainerd();
    });

    after(async () => {
      await containerd?.stop();
      await Promise.all(peers.map((p) => p.stop()));
      await scheduler?.stop();
      await proxy?.stop();
      await registry?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('delivers every digest intact while the origin sends the image about once', async () => {
      const ref = `${ORIGIN}/rollout/app:v1`;
      const pulls = peers.map(async (peer, i) => {
        if (i === 0) {
          const hostsDir = join(work, 'hosts');
          await writeHostsToml(hostsDir, ORIGIN, { server: `http://${ORIGIN}`, mirror: peer.url });
          await ctrPull({
            address: containerd!.address,
            image: ref,
            hostsDir,
            platform: 'linux/amd64',
            timeoutMs: 240_000,
          });
          assert.equal(await ctrImageDigest(containerd!.address, ref), image.digest);
          assert.deepEqual(await ctrContentDigests(containerd!.address), sorted(image.allDigests));
          return;
        }
        const conf = await writeRegistriesConf(join(work, `registries-${i}.conf`), {
          prefix: ORIGIN,
          mirror: peer.host,
        });
        const dest = join(work, `layout-${i}`);
        await skopeoCopyToOci({ image: ref, destDir: dest, registriesConf: conf, timeoutMs: 240_000 });
        const layout = await ociLayoutDigests(dest, { verify: true });
        assert.deepEqual(layout.all, sorted(image.allDigests));
        await rm(dest, { recursive: true, force: true });
      });
      await Promise.all(pulls);
      assertPeersAlive(peers);

      const blobBytes = image.totalBlobBytes;
      const manifestBytes = image.bytes.length;
      // Manifests are resolved upstream by every peer (tags are never trusted to peers); blobs leave the origin once.
      const originRatio = (proxy!.bytesDown - peerCount * manifestBytes) / blobBytes;
      const perPeerOrigin = await Promise.all(
        peers.map((p) => p.metric('shoal_downloaded_bytes_total', { source: 'origin' })),
      );
      assert.ok(
        originRatio <= 1.05,
        `origin sent ${originRatio.toFixed(3)}x the image's blob bytes (per peer: ${perPeerOrigin.join(', ')})`,
      );

      let mostlyFromPeers = 0;
      let totalFromPeers = 0;
      for (const peer of peers) {
        const fromOrigin = await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' });
        const fromPeers = await peer.metric('shoal_downloaded_bytes_total', { source: 'peer' });
        assert.ok(fromOrigin + fromPeers >= blobBytes, 'each peer accounts for every blob byte it fetched');
        totalFromPeers += fromPeers;
        if (fromPeers > fromOrigin) mostlyFromPeers++;
      }
      assert.ok(mostlyFromPeers >= 2, `${mostlyFromPeers} peers got most of their bytes from other peers`);
      assert.ok(
        totalFromPeers >= (peerCount - 1.5) * blobBytes,
        'the swarm, not the origin, carried the rollout',
      );
      const uploaded = await Promise.all(peers.map((p) => p.metric('shoal_uploaded_bytes_total')));
      const totalUploaded = uploaded.reduce((a, b) => a + b, 0);
      // A fetch that did not complete (a piece fetched twice near the end and dropped when the other
      // copy landed first, or one that timed out) was counted whole by its parent as sent, by the
      // child only as far as it arrived.
      const incomplete = await Promise.all(
        ['superseded', 'unavailable'].map(async (result) =>
          (await Promise.all(peers.map((p) => p.metric('shoal_pieces_total', { result })))).reduce(
            (a, b) => a + b,
            0,
          ),
        ),
      );
      const [superseded = 0, unavailable = 0] = incomplete;
      const largestPiece = Math.max(...image.blobs.map((blob) => pieceSizeFor(blob.size)));
      const tolerance = 0.05 * totalFromPeers;
      assert.ok(
        totalUploaded - totalFromPeers <= tolerance + (superseded + unavailable) * largestPiece &&
          totalFromPeers - totalUploaded <= tolerance,
        `bytes uploaded by parents (${totalUploaded}) match bytes children fetched from peers (${totalFromPeers}), ${superseded} piece fetches superseded, ${unavailable} failed`,
      );
      const assignedPieces = await scheduler!.metric('shoal_scheduler_assignments_total', { kind: 'peer' });
      const leases = await scheduler!.metric('shoal_scheduler_assignments_total', { kind: 'lease' });
      assert.ok(assignedPieces > 0);
      if (variant.leases) {
        // Pieces went out several to a lease: fewer leases than pieces.
        assert.ok(leases > 0 && leases < assignedPieces, `${leases} leases for ${assignedPieces} pieces`);
      } else assert.equal(leases, 0, 'one piece per assignment in a swarm this small');
      const pending = await scheduler!.metric('shoal_scheduler_assignments_total', { kind: 'pending' });
      assert.equal(
        pending,
        0,
        'no piece handed out before its parent holds it unless the scheduler is told to',
      );
    });
  });
}
