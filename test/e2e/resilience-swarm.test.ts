import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ociLayoutDigests, skopeoCopyToOci, writeRegistriesConf } from '../fixtures/clients.ts';
import type { ImageDescription } from '../fixtures/images.ts';
import { layeredImage, pushImage } from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import type { RunningPeer } from '../fixtures/shoal.ts';
import {
  assertPeersAlive,
  fetchBlobVerified,
  pullAll,
  SWARM_ORIGIN,
  type Swarm,
  startSwarm as startSwarmOf,
  stopSwarm,
  waitForPeers,
} from '../fixtures/swarm.ts';

const ORIGIN = SWARM_ORIGIN;
const MiB = 1024 * 1024;

let registry: RunningRegistry | undefined;
let image: ImageDescription;
let other: ImageDescription;
/** one 100 MiB layer: the load under which pnet-protected peers used to crash */
let single: ImageDescription;
const swarms: Swarm[] = [];

async function startSwarm(count: number, originRate: number, psk = false): Promise<Swarm> {
  const swarm = await startSwarmOf({ originHost: registry!.host, count, originRate, psk });
  swarms.push(swarm);
  return swarm;
}

before(async () => {
  [registry, image, other, single] = await Promise.all([
    startRegistry(),
    layeredImage([64 * MiB, 40 * MiB]),
    layeredImage([24 * MiB], 'other'),
    layeredImage([100 * MiB], 'single'),
  ]);
  await pushImage(registry.url, 'chaos/app', 'v1', image);
  await pushImage(registry.url, 'chaos/single', 'v1', single);
  await pushImage(registry.url, 'chaos/other', 'v1', other);
});

after(async () => {
  for (const swarm of swarms) {
    await stopSwarm(swarm);
  }
  await registry?.stop();
});

describe('resilience of the swarm', { timeout: 300_000 }, () => {
  const killVariants = [
    { title: '', repo: 'chaos/app', image: () => image, psk: false },
    {
      title: ' (a private swarm: pre-shared key, a 100 MiB blob)',
      repo: 'chaos/single',
      image: () => single,
      psk: true,
    },
  ];
  for (const variant of killVariants) {
    it(`survives parents killed mid-transfer: the survivors complete with verified content${variant.title}`, async () => {
      const { peers, scheduler } = await startSwarm(6, 30e6, variant.psk);
      const pulls = peers.map((peer) => pullAll(peer, variant.repo, variant.image()));
      await sleep(2000);
      const victims = peers.slice(4);
      await Promise.all(victims.map((p) => p.kill()));
      const results = await Promise.all(pulls);
      assertPeersAlive(peers.slice(0, 4));
      assert.deepEqual(results.slice(0, 4), [true, true, true, true], 'every survivor got every blob intact');
      await waitForPeers(scheduler, 4);
    });
  }

  it('survives a parent whose stored pieces rotted: the bad parent is blocklisted, no corrupt byte is served', async () => {
    const { peers, scheduler } = await startSwarm(3, 200e6);
    const [seed, ...children] = peers as [RunningPeer, ...RunningPeer[]];
    const blob = other.blobs.find((b) => b.size > 16 * MiB)!;
    assert.ok(await fetchBlobVerified(seed, 'chaos/other', blob));
    // Flip bytes inside piece 1 of the seed's complete copy.
    const file = await open(join(seed.dataDir, 'blobs', 'sha256', blob.digest.slice(7)), 'r+');
    await file.write(Buffer.from('rotten bytes'), 0, 12, 4 * MiB + 100);
    await file.close();
    const results = await Promise.all(children.map((child) => fetchBlobVerified(child, 'chaos/other', blob)));
    assert.deepEqual(results, [true, true], 'children got the right bytes anyway');
    const mismatches = await Promise.all(
      children.map((c) => c.metric('shoal_pieces_total', { result: 'mismatch' })),
    );
    assert.ok(mismatches.reduce((a, b) => a + b, 0) >= 1, 'a child detected the rotten piece');
    assert.ok((await scheduler.metric('shoal_scheduler_blocklist_events_total', { scope: 'task' })) >= 1);
  });

  it('with scheduler and origin both gone, a peer pulls by digest (and by its last tag answer) an image another peer holds', async () => {
    const swarm = await startSwarm(3, 200e6);
    const [holder, byDigest, byTag] = swarm.peers as [RunningPeer, RunningPeer, RunningPeer];
    const ref = `${ORIGIN}/chaos/other`;
    // The holder pulls the whole image (tag, manifest, blobs) while everything is up.
    const held = await fetch(`${holder.url}/v2/chaos/other/manifests/v1`);
    assert.equal(held.headers.get('docker-content-digest'), other.digest);
    assert.ok(await pullAll(holder, 'chaos/other', other));
    // The other two have met the registry (a client's /v2/ ping: it asks for no credentials);
    // one of them resolved the tag too, without fetching any blob.
    for (const peer of [byDigest, byTag]) assert.equal((await fetch(`${peer.url}/v2/`)).status, 200);
    const resolved = await fetch(`${byTag.url}/v2/chaos/other/manifests/v1`, { method: 'HEAD' });
    assert.equal(resolved.headers.get('docker-content-digest'), other.digest);
    // Every blob and the manifest are provided in the DHT before the lights go out.
    const provided = other.blobs.length + 1;
    for (
      let i = 0;
      i < 100 &&
      (await holder.metric('shoal_dht_operations_total', { operation: 'provide', result: 'ok' })) < provided;
      i++
    )
      await sleep(100);
    assert.ok(
      (await holder.metric('shoal_dht_operations_total', { operation: 'provide', result: 'ok' })) >= provided,
    );

    await swarm.scheduler.kill();
    await swarm.proxy.stop();
    const work = await mkdtemp(join(tmpdir(), 'shoal-e2e-outage-'));
    try {
      // By digest with a real client: the manifest and every blob come from the holder.
      const conf = await writeRegistriesConf(join(work, 'registries.conf'), {
        prefix: ORIGIN,
        mirror: byDigest.host,
      });
      const dest = join(work, 'by-digest');
      await skopeoCopyToOci({
        image: `${ref}@${other.digest}`,
        destDir: dest,
        tag: 'v1',
        registriesConf: conf,
        timeoutMs: 120_000,
      });
      const layout = await ociLayoutDigests(dest, { verify: true });
      assert.deepEqual(layout.all, [...other.allDigests].sort());
      assert.equal(layout.roots[0]?.digest, other.digest);

      // By tag: the last upstream answer, marked stale; the blobs from the peers that hold them.
      const manifest = await fetch(`${byTag.url}/v2/chaos/other/manifests/v1`);
      assert.equal(manifest.status, 200);
      assert.ok(manifest.headers.get('x-shoal-stale-tag'), 'the answer says it is from memory');
      const bytes = Buffer.from(await manifest.arrayBuffer());
      assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, other.digest);
      assert.ok(await pullAll(byTag, 'chaos/other', other), 'blobs came from the peers');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    for (const peer of [byDigest, byTag]) {
      assert.equal(await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' }), 0);
      assert.ok(
        (await peer.metric('shoal_downloaded_bytes_total', { source: 'peer' })) >= other.totalBlobBytes,
      );
    }
    // The first seeker could only have it from the holder; the second from either.
    assert.ok((await holder.metric('shoal_uploaded_bytes_total')) >= other.totalBlobBytes);
  });
});
