import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fillDisk } from '../fixtures/disk.ts';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, layeredImage, pushImage } from '../fixtures/images.ts';
import { run } from '../fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';

const ORIGIN = 'registry.invalid:5000';
const MiB = 1024 * 1024;
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json';

/** A pull through the peer: manifest by tag, then every blob, each checked against its digest; nothing may name `dataDir`. */
async function pullIntact(
  peer: RunningPeer,
  repo: string,
  image: ImageDescription,
  dataDir: string,
): Promise<void> {
  const manifest = await request(`${peer.url}/v2/${repo}/manifests/v1`, {
    headers: { accept: MANIFEST_ACCEPT },
  });
  assert.equal(
    manifest.status,
    200,
    `manifest: ${manifest.body.toString('utf8')} ${peer.daemon.output.slice(-3000)}`,
  );
  assert.equal(manifest.headers['docker-content-digest'], image.digest);
  assert.deepEqual(manifest.body, image.bytes);
  for (const blob of image.blobs) {
    const res = await streamGet(`${peer.url}/v2/${repo}/blobs/${blob.digest}`, { keepBody: true });
    assert.ok(!res.body?.toString('latin1').includes(dataDir), 'an answer names a local path');
    assert.equal(res.status, 200, `blob ${blob.digest}: ${res.body?.toString('utf8').slice(0, 300)}`);
    assert.equal(res.error, undefined);
    assert.equal(res.complete, true);
    assert.equal(res.digest, blob.digest);
  }
}

const cachedBlobs = async (dataDir: string) => (await readdir(join(dataDir, 'blobs/sha256'))).length;
const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern, 'g'))?.length ?? 0;

describe('a data directory that refuses writes', { timeout: 180_000 }, () => {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  const images: ImageDescription[] = [];
  /** Mount points to undo, innermost last. */
  const mounts: string[] = [];
  const dirs: string[] = [];

  before(async () => {
    registry = await startRegistry();
    for (const salt of ['one', 'two', 'three', 'four']) {
      const image = await layeredImage([3 * MiB], `data-dir-${salt}`);
      await pushImage(registry.url, `data-dir/${salt}`, 'v1', image);
      images.push(image);
    }
  });

  after(async () => {
    await peer?.stop();
    for (const mount of mounts.reverse()) await run('umount', [mount]).catch(() => {});
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await registry?.stop();
  });

  const startOn = (dataDir: string) =>
    startPeer({
      defaultRegistry: ORIGIN,
      endpoints: { [ORIGIN]: registry!.url },
      dataDir,
      extraArgs: ['--log-level', 'info'],
    });

  it('read-only: streams manifests and blobs through uncached, says so once, and caches again once writable', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'shoal-ro-'));
    dirs.push(dataDir);
    peer = await startOn(dataDir);
    await pullIntact(peer, 'data-dir/one', images[0]!, dataDir);
    const cachedBefore = await cachedBlobs(dataDir);
    assert.equal(cachedBefore, 2);

    // A read-only bind mount of the directory over itself (chmod does not stop root).
    await run('mount', ['--bind', dataDir, dataDir]);
    mounts.push(dataDir);
    await run('mount', ['-o', 'remount,bind,ro', dataDir]);
    await pullIntact(peer, 'data-dir/two', images[1]!, dataDir);
    await pullIntact(peer, 'data-dir/two', images[1]!, dataDir);
    await pullIntact(peer, 'data-dir/one', images[0]!, dataDir);
    assert.equal(await cachedBlobs(dataDir), cachedBefore);
    assert.equal(count(peer.daemon.output, /data directory does not take writes/), 1, peer.daemon.output);
    assert.ok((await peer.metric('shoal_store_write_failures_total', { code: 'EROFS' })) >= 2);

    await run('umount', [dataDir]);
    mounts.pop();
    await pullIntact(peer, 'data-dir/three', images[2]!, dataDir);
    assert.equal(await cachedBlobs(dataDir), cachedBefore + 2);
    assert.match(peer.daemon.output, /data directory takes writes again/);
    assert.equal(peer.daemon.hasExited, false);
    await peer.stop();
    peer = undefined;
  });

  it('full: streams through uncached, and caches again as soon as there is room', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'shoal-full-'));
    dirs.push(dataDir);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dataDir]);
    mounts.push(dataDir);
    peer = await startOn(dataDir);
    // Nothing cached yet: a full disk also makes the cache give back room, which would end the episode.
    const cachedBefore = await cachedBlobs(dataDir);

    // Fill the disk to the last byte.
    const fillerPath = await fillDisk(dataDir);

    await pullIntact(peer, 'data-dir/two', images[1]!, dataDir);
    await pullIntact(peer, 'data-dir/three', images[2]!, dataDir);
    const cachedWhileFull = await cachedBlobs(dataDir);
    assert.equal(cachedWhileFull, cachedBefore);
    assert.equal(count(peer.daemon.output, /data directory does not take writes/), 1, peer.daemon.output);
    assert.ok((await peer.metric('shoal_store_write_failures_total', { code: 'ENOSPC' })) >= 1);

    await rm(fillerPath);
    await pullIntact(peer, 'data-dir/four', images[3]!, dataDir);
    assert.equal(await cachedBlobs(dataDir), cachedWhileFull + 2);
    assert.match(peer.daemon.output, /data directory takes writes again/);
    assert.equal(peer.daemon.hasExited, false);
    await peer.stop();
    peer = undefined;
    await run('umount', [dataDir]);
    mounts.pop();
  });
});
