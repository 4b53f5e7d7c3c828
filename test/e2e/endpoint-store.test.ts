import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type BlobDescription,
  bigLayerImage,
  buildImage,
  type ImageDescription,
  pushImage,
  smallImage,
} from '../fixtures/images.ts';
import { waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';

const UNREACHABLE = 'registry.invalid:5000';

interface PartialMeta {
  digest: string;
  size: number;
  pieceSize: number;
  present: string;
  pieceHashes: Record<string, string>;
}

/** Indices of the pieces a partial's bitmap (most significant bit first) marks present. */
function presentPieces(meta: PartialMeta): number[] {
  const bytes = Buffer.from(meta.present, 'base64');
  const out: number[] = [];
  for (let i = 0; i < bytes.length * 8; i++) if (bytes[i >> 3]! & (0x80 >> (i & 7))) out.push(i);
  return out;
}

async function flipByte(path: string, offset: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    await file.read(one, 0, 1, offset);
    one[0] = one[0]! ^ 0xff;
    await file.write(one, 0, 1, offset);
  } finally {
    await file.close();
  }
}

async function tempFilesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((name) => name.endsWith('.tmp'));
}

describe('the store resumes a partial blob after the peer was killed', { timeout: 120_000 }, () => {
  let registry: RunningRegistry | undefined;
  let proxy: TcpProxy | undefined;
  let fastProxy: TcpProxy | undefined;
  let peer: RunningPeer | undefined;
  let dataDir = '';
  let image: ImageDescription;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'shoal-e2e-store-'));
    registry = await startRegistry();
    const reg = registry;
    const big = await bigLayerImage();
    image = big;
    await pushImage(reg.url, 'store/big', 'v1', big);
    proxy = await startTcpProxy({ target: reg.host, rateBytesPerSecond: 20e6 });
    fastProxy = await startTcpProxy({ target: reg.host });
  });

  after(async () => {
    await peer?.stop();
    await proxy?.stop();
    await fastProxy?.stop();
    await registry?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('re-verifies the pieces on disk, re-fetches a damaged one and completes the blob', async () => {
    const layer = image.manifests[0]!.layers[0]!;
    const hex = layer.digest.slice('sha256:'.length);
    const options = { dataDir, defaultRegistry: UNREACHABLE };
    const url = (p: RunningPeer) => `${p.url}/v2/store/big/blobs/${layer.digest}`;

    peer = await startPeer({ ...options, endpoints: { [UNREACHABLE]: proxy!.url } });
    const start = proxy!.bytesDown;
    const interrupted = streamGet(url(peer));
    await waitFor('60 MB from the origin', async () => proxy!.bytesDown - start >= 60e6, {
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    await peer.kill();
    const cut = await interrupted;
    assert.ok(cut.error !== undefined || !cut.complete, 'the first client was cut off by the kill');
    assert.ok(cut.bytes < layer.size);

    const metaPath = join(dataDir, 'partial', `${hex}.meta.json`);
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as PartialMeta;
    assert.equal(meta.size, layer.size);
    const present = presentPieces(meta);
    assert.ok(present.length >= 8, `${present.length} pieces were recorded before the kill`);
    assert.deepEqual(
      present,
      Array.from({ length: present.length }, (_, i) => i),
      'pieces land in order from a sequential origin stream',
    );
    // Damage one early piece that was complete and recorded.
    const damaged = Math.floor(present.length / 2);
    const dataPath = join(dataDir, 'partial', `${hex}.data`);
    await flipByte(dataPath, damaged * meta.pieceSize + Math.floor(meta.pieceSize / 3));
    // Leftovers of writes a crash interrupted.
    const leftovers = [
      join(dataDir, 'partial', `${hex}.meta.json.4242.crash.tmp`),
      join(dataDir, 'blobs', 'sha256', `${'e'.repeat(64)}.4242.crash.tmp`),
      join(dataDir, 'manifests', 'sha256', `${'d'.repeat(64)}.4242.crash.tmp`),
    ];
    for (const path of leftovers) await writeFile(path, 'half-written');

    // After the restart the origin is reached through an unthrottled counting proxy.
    const resumedAt = fastProxy!.bytesDown;
    peer = await startPeer({ ...options, endpoints: { [UNREACHABLE]: fastProxy!.url } });
    const res = await streamGet(url(peer));
    assert.equal(res.error, undefined, res.error?.message);
    assert.equal(res.status, 200);
    assert.equal(res.complete, true);
    assert.equal(res.bytes, layer.size);
    assert.equal(res.digest, layer.digest);

    // Resumed: the intact pieces before the damaged one were not fetched again,
    // and the damaged piece (with everything after it) was.
    const fetchedAgain = await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' });
    assert.equal(fetchedAgain, layer.size - damaged * meta.pieceSize);
    const originSent = fastProxy!.bytesDown - resumedAt;
    assert.ok(originSent < layer.size - damaged * meta.pieceSize + 64 * 1024, `origin sent ${originSent}`);

    // Complete: stored under its digest, no partial, no temp file anywhere.
    assert.deepEqual(await readdir(join(dataDir, 'partial')), []);
    assert.ok((await readdir(join(dataDir, 'blobs', 'sha256'))).includes(hex));
    assert.deepEqual(await tempFilesUnder(dataDir), []);
    // Served from the store from now on.
    const again = await streamGet(url(peer));
    assert.equal(again.digest, layer.digest);
    assert.equal(await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' }), fetchedAgain);
  });
});

describe('the store evicts least recently used blobs to stay within its size', { timeout: 120_000 }, () => {
  const CAPACITY = 3e6;
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  const blobs: { repo: string; blob: BlobDescription }[] = [];
  let oversized: BlobDescription;

  before(async () => {
    registry = await startRegistry();
    const reg = registry;
    const images = await Promise.all([
      smallImage('evict-1'),
      smallImage('evict-2'),
      smallImage('evict-3'),
      smallImage('evict-4'),
    ]);
    for (const [i, img] of images.entries()) {
      await pushImage(reg.url, `evict/img${i}`, 'v1', img);
      for (const blob of img.blobs) blobs.push({ repo: `evict/img${i}`, blob });
    }
    // One piece, larger than the whole cache.
    const big = await buildImage({
      name: 'evict-oversized',
      format: 'oci',
      platforms: [
        {
          platform: { os: 'linux', architecture: 'amd64' },
          layers: [{ compression: 'none', files: [{ path: 'x.bin', size: 3_500_000, seed: 'oversized' }] }],
        },
      ],
    });
    oversized = big.manifests[0]!.layers[0]!;
    await pushImage(reg.url, 'evict/oversized', 'v1', big);
    peer = await startPeer({
      defaultRegistry: UNREACHABLE,
      endpoints: { [UNREACHABLE]: reg.url },
      extraArgs: ['--cache-size', '3MB'],
    });
  });

  after(async () => {
    await peer?.stop();
    await registry?.stop();
  });

  const fetchBlob = (repo: string, blob: BlobDescription) =>
    streamGet(`${peer!.url}/v2/${repo}/blobs/${blob.digest}`);

  it('keeps the store within capacity and serves evicted blobs again', async () => {
    const p = peer!;
    assert.equal(await p.metric('shoal_store_capacity_bytes'), CAPACITY);
    const total = blobs.reduce((n, b) => n + b.blob.size, 0);
    assert.ok(total > 1.5 * CAPACITY, `${total} bytes of blobs`);

    for (const { repo, blob } of blobs) {
      const res = await fetchBlob(repo, blob);
      assert.equal(res.complete, true, res.error?.message);
      assert.equal(res.digest, blob.digest);
      const used = await p.metric('shoal_store_bytes');
      assert.ok(used <= CAPACITY, `store holds ${used} bytes, capacity ${CAPACITY}`);
    }
    assert.ok((await p.metric('shoal_store_evictions_total')) > 0, 'something was evicted');
    const onDisk = await readdir(join(p.dataDir, 'blobs', 'sha256'));
    assert.ok(onDisk.length < blobs.length, `${onDisk.length} blobs on disk`);

    // Every blob, evicted or not, is served correctly again; the evicted ones come from the origin.
    const originBefore = await p.metric('shoal_downloaded_bytes_total', { source: 'origin' });
    const evicted = blobs.filter(({ blob }) => !onDisk.includes(blob.digest.slice('sha256:'.length)));
    assert.ok(evicted.length > 0);
    for (const { repo, blob } of blobs) {
      const res = await fetchBlob(repo, blob);
      assert.equal(res.complete, true, res.error?.message);
      assert.equal(res.digest, blob.digest);
      assert.ok((await p.metric('shoal_store_bytes')) <= CAPACITY);
    }
    const refetched = (await p.metric('shoal_downloaded_bytes_total', { source: 'origin' })) - originBefore;
    assert.ok(
      refetched >= evicted.reduce((n, { blob }) => n + blob.size, 0),
      `${refetched} bytes fetched again`,
    );
  });

  it('serves a blob larger than the whole cache', async () => {
    const p = peer!;
    for (const attempt of ['first', 'second']) {
      const res = await fetchBlob('evict/oversized', oversized);
      assert.equal(res.error, undefined, `${attempt}: ${res.error?.message}`);
      assert.equal(res.status, 200, attempt);
      assert.equal(res.complete, true, attempt);
      assert.equal(res.digest, oversized.digest, attempt);
      assert.ok((await p.metric('shoal_store_bytes')) <= CAPACITY);
    }
  });
});
