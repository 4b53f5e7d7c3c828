import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ctrContentDigests,
  ctrImageDigest,
  ctrPull,
  ctrSnapshots,
  mountsUnder,
  ociLayoutDigests,
  type RunningContainerd,
  skopeoCopyToOci,
  skopeoInspectRaw,
  startContainerd,
  writeHostsToml,
  writeRegistriesConf,
} from '../fixtures/clients.ts';
import {
  bigLayerImage,
  deterministicBytes,
  dockerV2Image,
  type ImageDescription,
  MediaTypes,
  multiArchImage,
  pushImage,
  smallImage,
} from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';

const UNREACHABLE = 'registry.invalid:5000';

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

async function contentHash(seed: string | number, size: number, text?: boolean): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of deterministicBytes(seed, size, text)) hash.update(chunk);
  return hash.digest('hex');
}

/** Files and directories of every snapshot of the overlayfs snapshotter, keyed by path inside the layer. */
async function unpackedEntries(
  root: string,
): Promise<Map<string, { mode: number; size: number; path: string }>> {
  const snapshots = join(root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots');
  const entries = new Map<string, { mode: number; size: number; path: string }>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      const st = await stat(path);
      entries.set(e.isDirectory() ? `${relPath}/` : relPath, { mode: st.mode & 0o7777, size: st.size, path });
      if (e.isDirectory()) await walk(path, relPath);
    }
  };
  for (const id of await readdir(snapshots)) await walk(join(snapshots, id, 'fs'), '');
  return entries;
}

describe('test fixtures against the real registry, skopeo and containerd', { timeout: 90_000 }, () => {
  let registry: RunningRegistry | undefined;
  let containerd: RunningContainerd | undefined;
  let work = '';
  const images = new Map<string, ImageDescription>();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'shoal-fixtures-test-'));
    const [reg, small, multi, docker, big] = await Promise.all([
      startRegistry(),
      smallImage(),
      multiArchImage(),
      dockerV2Image(),
      bigLayerImage(),
    ]);
    registry = reg;
    images.set('small', small);
    images.set('multiarch', multi);
    images.set('dockerv2', docker);
    images.set('big', big);
  });

  after(async () => {
    const dir = containerd?.dir;
    await containerd?.stop();
    if (dir) assert.deepEqual(await mountsUnder(dir), [], 'containerd left mounts behind');
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('builds descriptions with the expected media types and sizes', async () => {
    const small = images.get('small')!;
    assert.equal(small.mediaType, MediaTypes.ociManifest);
    assert.equal(small.manifests[0]!.layers.length, 3);
    assert.ok(small.manifests[0]!.layers.every((l) => l.mediaType === MediaTypes.ociLayerGzip));
    for (const blob of small.blobs) {
      assert.equal((await stat(blob.path)).size, blob.size);
    }
    assert.equal(
      small.totalBlobBytes,
      small.blobs.reduce((n, b) => n + b.size, 0),
    );

    const big = images.get('big')!;
    const bigLayer = big.manifests[0]!.layers[0]!;
    assert.equal(bigLayer.mediaType, MediaTypes.ociLayer);
    assert.equal(bigLayer.digest, bigLayer.diffId);
    assert.ok(bigLayer.size > 200 * 1024 * 1024);

    const multi = images.get('multiarch')!;
    assert.equal(multi.mediaType, MediaTypes.ociIndex);
    assert.deepEqual(
      multi.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
      ['linux/amd64', 'linux/arm64'],
    );
    assert.notEqual(multi.manifests[0]!.digest, multi.manifests[1]!.digest);

    const docker = images.get('dockerv2')!;
    assert.equal(docker.mediaType, MediaTypes.dockerManifest);
    assert.equal(docker.manifests[0]!.config.mediaType, MediaTypes.dockerConfig);

    // Built once per process: the same object comes back.
    assert.equal(await smallImage(), small);
  });

  it('pushes every fixture; a second push skips the blobs', async () => {
    const reg = registry!;
    for (const [name, image] of images) {
      const result = await pushImage(reg.url, `fixtures/${name}`, 'v1', image);
      assert.equal(result.uploadedBlobs, image.blobs.length, name);
      assert.equal(result.uploadedBytes, image.totalBlobBytes, name);
    }
    const again = await pushImage(reg.url, 'fixtures/small', 'v1', images.get('small')!);
    assert.equal(again.uploadedBlobs, 0);
    assert.equal(again.skippedBlobs, images.get('small')!.blobs.length);
  });

  it('skopeo pulls each fixture digest for digest', async () => {
    const reg = registry!;
    for (const [name, image] of images) {
      const destDir = join(work, `skopeo-${name}`);
      await skopeoCopyToOci({
        image: `${reg.host}/fixtures/${name}:v1`,
        destDir,
        all: image.index !== undefined,
      });
      const layout = await ociLayoutDigests(destDir, { verify: true });
      assert.deepEqual(layout.roots, [{ digest: image.digest, mediaType: image.mediaType, ref: 'v1' }], name);
      assert.deepEqual(layout.all, sorted(image.allDigests), name);
      assert.deepEqual(layout.blobs, sorted(image.blobs.map((b) => b.digest)), name);
    }
    const raw = await skopeoInspectRaw({ image: `${reg.host}/fixtures/multiarch:v1` });
    assert.deepEqual(raw, images.get('multiarch')!.bytes);
  });

  it('skopeo pulls through a registries.conf mirror entry', async () => {
    const reg = registry!;
    const image = images.get('small')!;
    const conf = await writeRegistriesConf(join(work, 'registries.conf'), {
      prefix: UNREACHABLE,
      mirror: reg.host,
    });
    const destDir = join(work, 'skopeo-mirrored');
    await skopeoCopyToOci({ image: `${UNREACHABLE}/fixtures/small:v1`, destDir, registriesConf: conf });
    const layout = await ociLayoutDigests(destDir, { verify: true });
    assert.deepEqual(layout.all, sorted(image.allDigests));
  });

  it('containerd pulls and unpacks the small and Docker schema 2 images', async () => {
    const reg = registry!;
    containerd = await startContainerd();
    const { address } = containerd;
    for (const name of ['small', 'dockerv2']) {
      const image = images.get(name)!;
      const ref = `${reg.host}/fixtures/${name}:v1`;
      await ctrPull({ address, image: ref, plainHttp: true });
      assert.equal(await ctrImageDigest(address, ref), image.digest, name);
    }
    const expected = sorted([...images.get('small')!.allDigests, ...images.get('dockerv2')!.allDigests]);
    assert.deepEqual(await ctrContentDigests(address), expected);
    const layerCount = images.get('small')!.blobs.length - 1 + images.get('dockerv2')!.blobs.length - 1;
    assert.equal((await ctrSnapshots(address)).length, layerCount);

    // The unpacked layers hold every file with its size, mode 0644 and content, directories 0755.
    const entries = await unpackedEntries(containerd.root);
    for (const name of ['small', 'dockerv2']) {
      for (const layer of images.get(name)!.manifests[0]!.layers) {
        for (const file of layer.files) {
          const entry = entries.get(file.path);
          assert.ok(entry, `${file.path} unpacked`);
          assert.equal(entry.size, file.size, file.path);
          assert.equal(entry.mode, 0o644, file.path);
          const dir = entries.get(`${file.path.slice(0, file.path.lastIndexOf('/'))}/`);
          assert.equal(dir?.mode, 0o755, `directory of ${file.path}`);
        }
      }
    }
    const probe = images.get('small')!.manifests[0]!.layers[2]!.files[0]!;
    const onDisk = createHash('sha256');
    for await (const chunk of createReadStream(entries.get(probe.path)!.path)) {
      onDisk.update(chunk as Buffer);
    }
    assert.equal(onDisk.digest('hex'), await contentHash(probe.seed, probe.size, probe.text));
  });

  it('containerd pulls through a hosts.toml mirror entry (one platform of an index)', async () => {
    const reg = registry!;
    const { address } = containerd!;
    const image = images.get('multiarch')!;
    const hostsDir = join(work, 'hosts');
    await writeHostsToml(hostsDir, UNREACHABLE, { server: `http://${UNREACHABLE}`, mirror: reg.url });
    const ref = `${UNREACHABLE}/fixtures/multiarch:v1`;
    await ctrPull({ address, image: ref, hostsDir, platform: 'linux/arm64', unpack: false });
    assert.equal(await ctrImageDigest(address, ref), image.digest);
    const arm = image.manifests[1]!;
    const content = new Set(await ctrContentDigests(address));
    for (const d of [image.digest, arm.digest, arm.config.digest, ...arm.layers.map((l) => l.digest)]) {
      assert.ok(content.has(d), `${d} fetched`);
    }
    assert.ok(!content.has(image.manifests[0]!.config.digest), 'amd64 config not fetched');
  });
});
