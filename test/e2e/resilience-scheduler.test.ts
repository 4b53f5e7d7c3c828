import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ImageDescription, layeredImage, pushImage } from '../fixtures/images.ts';
import { freePort } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { startScheduler } from '../fixtures/shoal.ts';
import {
  assertPeersAlive,
  pullAll,
  type Swarm,
  startSwarm,
  stopSwarm,
  waitForPeers,
} from '../fixtures/swarm.ts';

const MiB = 1024 * 1024;

const VARIANTS = [
  { title: '', layers: [64 * MiB, 40 * MiB], psk: false },
  // The swarm.key protection, under the load that used to crash it: a 100 MiB blob.
  { title: ' (a private swarm: pre-shared key)', layers: [100 * MiB], psk: true },
];

for (const variant of VARIANTS) {
  describe(`the scheduler dies in the middle of a rollout${variant.title}`, { timeout: 240_000 }, () => {
    let registry: RunningRegistry | undefined;
    let image: ImageDescription;
    let swarm: Swarm | undefined;

    before(async () => {
      [registry, image] = await Promise.all([startRegistry(), layeredImage(variant.layers, 'sched-gone')]);
      await pushImage(registry.url, 'chaos/app', 'v1', image);
    });

    after(async () => {
      if (swarm) await stopSwarm(swarm);
      await registry?.stop();
    });

    it('every peer completes, the origin sends the image at most twice, and a new scheduler relearns the swarm', async () => {
      const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`;
      // At 20 MB/s the origin needs about 5.5 s for the image: the scheduler dies in the middle.
      swarm = await startSwarm({
        originHost: registry!.host,
        count: 6,
        originRate: 20e6,
        schedulerListen: listen,
        psk: variant.psk,
      });
      const { peers, proxy } = swarm;
      const sentBefore = proxy.bytesDown;
      const pulls = peers.map((peer) => pullAll(peer, 'chaos/app', image));
      await sleep(2500);
      await swarm.scheduler.kill();
      const results = await Promise.all(pulls);
      const failed = peers.filter((_, i) => !results[i]);
      assert.equal(
        failed.length,
        0,
        `peers without every blob intact:\n${failed.map((p) => p.daemon.output.slice(-3000)).join('\n---\n')}`,
      );
      assertPeersAlive(peers);
      const ratio = (proxy.bytesDown - sentBefore) / image.totalBlobBytes;
      assert.ok(ratio <= 2, `origin sent ${ratio.toFixed(2)}x the image`);

      // A scheduler back on the same address and identity learns the swarm from the peers' re-registration.
      const dataDir = swarm.scheduler.dataDir;
      swarm.scheduler = await startScheduler({ listen, dataDir, extraArgs: swarm.pskArgs });
      after(() => rm(dataDir, { recursive: true, force: true }));
      await waitForPeers(swarm.scheduler, 6);
      assert.ok((await swarm.scheduler.metric('shoal_scheduler_tasks')) >= image.blobs.length);
    });
  });
}
