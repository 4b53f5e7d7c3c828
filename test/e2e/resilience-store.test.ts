import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BlobDescription, type ImageDescription, layeredImage, pushImage } from '../fixtures/images.ts';
import { run } from '../fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';

const ORIGIN = 'registry.invalid:5000';
const MiB = 1024 * 1024;

describe('a blob larger than the cache', { timeout: 120_000 }, () => {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  let image: ImageDescription;

  before(async () => {
    [registry, image] = await Promise.all([startRegistry(), layeredImage([24 * MiB], 'uncacheable')]);
    await pushImage(registry.url, 'store/big', 'v1', image);
    peer = await startPeer({
      defaultRegistry: ORIGIN,
      endpoints: { [ORIGIN]: registry.url },
      extraArgs: ['--cache-size', '8MiB', '--log-level', 'info'],
    });
  });

  after(async () => {
    await peer?.stop();
    await registry?.stop();
  });

  it('is streamed through intact, uncached, with a clear log line, and the daemon stays up', async () => {
    const blob = image.blobs.find((b) => b.size > 16 * MiB)!;
    for (let round = 0; round < 2; round++) {
      const response = await fetch(`${peer!.url}/v2/store/big/blobs/${blob.digest}`);
      assert.equal(response.status, 200);
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(body.length, blob.size);
      assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, blob.digest);
    }
    assert.deepEqual(await readdir(join(peer!.dataDir, 'blobs', 'sha256')), []);
    assert.deepEqual(await readdir(join(peer!.dataDir, 'partial')), []);
    assert.match(peer!.daemon.output, /cannot be cached; streaming it through/);
    assert.equal((await fetch(`${peer!.adminUrl}/healthz`)).status, 200);
  });
});

describe('an evicted blob that cannot be removed (immutable file)', { timeout: 120_000 }, () => {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  let image: ImageDescription;
  let immutable: string | undefined;

  before(async () => {
    [registry, image] = await Promise.all([
      startRegistry(),
      layeredImage([3 * MiB, 3 * MiB, 3 * MiB, 3 * MiB], 'undeletable'),
    ]);
    await pushImage(registry.url, 'store/stuck', 'v1', image);
    peer = await startPeer({
      defaultRegistry: ORIGIN,
      endpoints: { [ORIGIN]: registry.url },
      // Room for two of the 3 MiB layers: a third evicts one.
      extraArgs: ['--cache-size', '8MiB', '--log-level', 'info'],
    });
  });

  after(async () => {
    if (immutable) await run('chattr', ['-i', immutable]).catch(() => {});
    await peer?.stop();
    await registry?.stop();
  });

  async function pull(digest: string): Promise<void> {
    const response = await fetch(`${peer!.url}/v2/store/stuck/blobs/${digest}`);
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(response.status, 200, `${digest}: ${body.toString('utf8', 0, 200)}`);
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, digest);
  }

  it('is logged and counted; the downloads that need the room are served, and the peer stays up', async () => {
    const layers = image.blobs.filter((blob) => blob.kind === 'layer');
    assert.equal(layers.length, 4);
    const [oldest, second, third, fourth] = layers as [BlobDescription, ...BlobDescription[]];
    await pull(oldest.digest);
    await pull(second!.digest);
    // The least recently used blob cannot be deleted any more.
    immutable = join(peer!.dataDir, 'blobs', 'sha256', oldest.digest.slice('sha256:'.length));
    await run('chattr', ['+i', immutable]);

    // Each of these needs an eviction, whose first choice fails: another blob goes instead.
    await pull(third!.digest);
    await pull(fourth!.digest);
    assert.ok((await peer!.metric('shoal_store_eviction_failures_total')) >= 1);
    assert.match(peer!.daemon.output, /cannot remove an evicted blob/);
    // The stuck blob is still served, and the store keeps within its size.
    await pull(oldest.digest);
    assert.ok((await peer!.metric('shoal_store_bytes')) <= 8 * MiB);
    assert.equal((await fetch(`${peer!.adminUrl}/healthz`)).status, 200);
    assert.equal(peer!.daemon.child.exitCode, null, 'the daemon is still running');
  });
});
