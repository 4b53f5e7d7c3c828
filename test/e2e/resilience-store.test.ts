import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ImageDescription, layeredImage, pushImage } from '../fixtures/images.ts';
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
