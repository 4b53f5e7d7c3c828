import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BlobDescription, layeredImage, pushImage } from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import type { RunningPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';
import { assertPeersAlive, type Swarm, startSwarm } from '../fixtures/swarm.ts';

const MiB = 1024 * 1024;
const REPO = 'pending/pieces';

/**
 * Real peers handed pieces before their parent holds them (`--pending-pieces`): a holder with one
 * upload slot lends it to the first of two children; the second then gets a lease from the first,
 * made of the pieces it has and, pending, those still on their way to it. The parent waits for each
 * and sends it as it lands.
 */
describe('pending pieces between real peers', { timeout: 180_000 }, () => {
  let registry: RunningRegistry | undefined;
  let swarm: Swarm | undefined;
  let blob: BlobDescription;

  before(async () => {
    registry = await startRegistry();
    const image = await layeredImage([128 * MiB], 'pending-pieces');
    await pushImage(registry.url, REPO, 'v1', image);
    blob = image.manifests[0]!.layers[0]!;
    swarm = await startSwarm({
      originHost: registry.host,
      count: 3,
      schedulerArgs: () => ['--lease-min-peers', '1', '--lease-pieces', '8', '--pending-pieces', 'true'],
      peer: (index) => (index === 0 ? { extraArgs: ['--upload-slots', '1'] } : {}),
    });
  });

  after(async () => {
    await Promise.all((swarm?.peers ?? []).map((p) => p.stop()));
    await swarm?.scheduler.stop();
    await swarm?.proxy.stop();
    await registry?.stop();
  });

  it('sends each pending piece as it lands at the parent, every byte checked, none from the origin twice', async () => {
    const [holder, first, second] = swarm!.peers as [RunningPeer, RunningPeer, RunningPeer];
    const url = (peer: RunningPeer) => `${peer.url}/v2/${REPO}/blobs/${blob.digest}`;
    const held = await streamGet(url(holder));
    assert.equal(held.digest, blob.digest);
    const originBefore = swarm!.proxy.bytesDown;
    const [a, b] = await Promise.all([streamGet(url(first)), streamGet(url(second))]);
    for (const res of [a, b]) {
      assert.equal(res.status, 200);
      assert.equal(res.complete, true, res.error?.message);
      assert.equal(res.digest, blob.digest);
    }
    assertPeersAlive(swarm!.peers);
    const pending = await swarm!.scheduler.metric('shoal_scheduler_assignments_total', { kind: 'pending' });
    assert.ok(pending > 0, 'no piece was handed out before its parent held it');
    for (const peer of [first, second]) {
      assert.equal(await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' }), 0);
    }
    // The holder's copy is the swarm's: the two children cost the origin nothing but their access checks.
    assert.ok(
      swarm!.proxy.bytesDown - originBefore < MiB,
      `origin sent ${swarm!.proxy.bytesDown - originBefore} bytes`,
    );
    const absent = await Promise.all(
      [first, second].map((p) => p.metric('shoal_pieces_total', { result: 'absent' })),
    );
    assert.deepEqual(absent, [0, 0], 'a parent waited for every pending piece it was asked for');
  });
});
