import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { exists, replaceByte } from '../fixtures/files.ts';
import { type BlobDescription, type ImageDescription, layeredImage, pushImage } from '../fixtures/images.ts';
import { waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';

const ORIGIN = 'registry.invalid:5000';
const MiB = 1024 * 1024;
const REPO = 'cached/bytes';

describe('cached bytes are checked again, not trusted forever', { timeout: 180_000 }, () => {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  let dataDir: string;
  let blob: BlobDescription;

  const blobUrl = () => `${peer!.url}/v2/${REPO}/blobs/${blob.digest}`;
  const cachedPath = () => join(dataDir, 'blobs/sha256', blob.digest.slice('sha256:'.length));
  const recordPath = () => join(dataDir, 'blobs/records', `${blob.digest.slice('sha256:'.length)}.json`);
  const corrupt = (foundBy: string) => peer!.metric('shoal_store_corrupt_blobs_total', { found_by: foundBy });
  const start = (extraArgs: string[] = []) =>
    startPeer({
      defaultRegistry: ORIGIN,
      endpoints: { [ORIGIN]: registry!.url },
      dataDir,
      extraArgs: ['--log-level', 'info', ...extraArgs],
    });

  /** A GET whose body must be the whole blob, intact, ended cleanly. */
  async function assertServedIntact(what: string): Promise<void> {
    const res = await streamGet(blobUrl());
    assert.equal(res.status, 200, what);
    assert.equal(res.error, undefined, `${what}: ${res.error?.message}`);
    assert.equal(res.complete, true, what);
    assert.equal(res.bytes, blob.size, what);
    assert.equal(res.digest, blob.digest, what);
  }

  async function cacheTheBlob(): Promise<void> {
    await assertServedIntact('filling the cache');
    await waitFor('blob cached', () => exists(cachedPath()));
  }

  before(async () => {
    let image: ImageDescription;
    [registry, image, dataDir] = await Promise.all([
      startRegistry(),
      layeredImage([6 * MiB], 'cached-bytes'),
      mkdtemp(join(tmpdir(), 'shoal-cached-bytes-')),
    ]);
    await pushImage(registry.url, REPO, 'v1', image);
    blob = image.manifests[0]!.layers[0]!;
    peer = await start();
  });

  afterEach(async () => {
    assert.equal(peer!.daemon.hasExited, false, `peer exited:\n${peer!.daemon.output}`);
  });

  after(async () => {
    await peer?.stop();
    await registry?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('cuts off a cached blob whose bytes rotted, evicts it, counts it, and fetches it again', async () => {
    await cacheTheBlob();
    await replaceByte(cachedPath(), blob.size - 3000, (b) => b ^ 0x01);
    const res = await streamGet(blobUrl());
    assert.equal(res.status, 200);
    assert.ok(res.error !== undefined || !res.complete, 'the rotten body ended cleanly');
    // Checked block by block (1 MiB each) against the checksums recorded with the digest: the block
    // holding the flipped byte is never sent.
    const rottenBlock = Math.floor((blob.size - 3000) / MiB);
    assert.ok(
      res.bytes <= rottenBlock * MiB,
      `${res.bytes} bytes sent, the rotten block starts at ${rottenBlock} MiB`,
    );
    await waitFor('rotten blob evicted', async () => !(await exists(cachedPath())));
    assert.equal(await corrupt('serve'), 1);
    assert.match(peer!.daemon.output, /cached blob is corrupt; evicted/);
    assert.match(peer!.daemon.output, new RegExp(`block ${rottenBlock} \\(1048576 bytes\\) has CRC32`));
    await assertServedIntact('after eviction');
  });

  it('checks a Range of a cached blob by its blocks too: a rotten block is never sent', async () => {
    await cacheTheBlob();
    const expected = await streamGet(blobUrl(), { keepBody: true });
    const whole = expected.body!;
    // Ranges of clean blocks, within one block and across two, are served exactly.
    for (const [first, last] of [
      [100, 4195],
      [MiB - 10, MiB + 9],
      [blob.size - 100, blob.size - 1],
    ] as const) {
      const res = await streamGet(blobUrl(), {
        headers: { range: `bytes=${first}-${last}` },
        keepBody: true,
      });
      assert.equal(res.status, 206);
      assert.equal(res.complete, true, `bytes=${first}-${last}: ${res.error?.message}`);
      assert.deepEqual(res.body, whole.subarray(first, last + 1), `bytes=${first}-${last}`);
    }
    const rotten = 3 * MiB + 5000;
    const corruptBefore = await corrupt('serve');
    await replaceByte(cachedPath(), rotten, (b) => b ^ 0x10);
    // A range of 200 bytes away from the flipped byte, in its block: the block fails as a whole.
    const res = await streamGet(blobUrl(), { headers: { range: `bytes=${rotten + 100}-${rotten + 299}` } });
    // Cut off before its first byte: the head, written with the first bytes, may not have gone out either.
    assert.ok(res.status === 0 || res.status === 206, `status ${res.status}`);
    assert.ok(res.error !== undefined || !res.complete, 'the rotten range ended cleanly');
    assert.equal(res.bytes, 0, 'bytes of the rotten block were sent');
    await waitFor('rotten blob evicted', async () => !(await exists(cachedPath())));
    assert.equal(await corrupt('serve'), corruptBefore + 1);
    assert.match(peer!.daemon.output, /block 3 \(1048576 bytes\) has CRC32/);
    await assertServedIntact('after eviction');
  });

  it('checks a blob recorded without check blocks against its digest, and the scrub records them', async () => {
    await cacheTheBlob();
    await peer!.daemon.stop();
    const { checkBlocks, ...older } = JSON.parse(await readFile(recordPath(), 'utf8'));
    assert.equal(typeof checkBlocks, 'string', 'a fresh blob is recorded with its check blocks');
    await writeFile(recordPath(), JSON.stringify(older));
    await replaceByte(cachedPath(), 4321, (b) => b ^ 0x04);
    peer = await start();
    const res = await streamGet(blobUrl());
    assert.ok(res.error !== undefined || !res.complete, 'the rotten body ended cleanly');
    assert.ok(res.bytes < blob.size, `${res.bytes} of ${blob.size} bytes sent`);
    await waitFor('rotten blob evicted', async () => !(await exists(cachedPath())));
    assert.match(peer.daemon.output, /cached blob sha256:[0-9a-f]+: hashes to sha256:/);
    await assertServedIntact('after eviction');
    // Recorded again with check blocks (fetched anew); strip them once more and let the scrub learn them.
    await peer.daemon.stop();
    await writeFile(recordPath(), JSON.stringify(older));
    peer = await start(['--scrub-rate', '64MiB']);
    await waitFor('the scrub records check blocks', async () => {
      const record = JSON.parse(await readFile(recordPath(), 'utf8'));
      return record.checkBlocks === checkBlocks;
    });
    await assertServedIntact('checked by the learnt blocks');
  });

  it('does not serve a blob truncated while the peer runs (size checked when opened)', async () => {
    await cacheTheBlob();
    await truncate(cachedPath(), blob.size - 4096);
    await assertServedIntact('after truncation');
    assert.equal(await corrupt('open'), 1);
  });

  it('does not index a blob truncated while the peer was down', async () => {
    await cacheTheBlob();
    await peer!.daemon.stop();
    await truncate(cachedPath(), blob.size - 4096);
    peer = await start();
    assert.equal(await corrupt('index'), 1);
    assert.equal(await exists(cachedPath()), false);
    await assertServedIntact('after restart');
  });

  it('finds rotten bytes in the background scrub, within its I/O budget', async () => {
    await cacheTheBlob();
    await peer!.daemon.stop();
    await replaceByte(cachedPath(), 12345, (b) => b ^ 0x80);
    peer = await start(['--scrub-rate', '16MiB']);
    await waitFor('scrub finds the rotten blob', async () => (await corrupt('scrub')) === 1, {
      timeoutMs: 30_000,
    });
    // Counted as it is found (and dropped from the index), removed from disk a moment after.
    await waitFor('the rotten file removed', async () => !(await exists(cachedPath())), { timeoutMs: 5_000 });
    assert.ok((await peer.metric('shoal_store_scrubbed_bytes_total')) > 0);
    await assertServedIntact('after the scrub');
  });
});
