import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bigLayerImage,
  type ImageDescription,
  type LayerDescription,
  pushImage,
} from '../fixtures/images.ts';
import { waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { type StreamedResponse, streamGet } from '../fixtures/stream-get.ts';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';

const UNREACHABLE = 'registry.invalid:5000';
/** Origin egress: 200 MiB take about 5 s, long enough to observe a download in progress. */
const ORIGIN_RATE = 40e6;

async function fileBytes(path: string, start: number, length: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

function assertWholeBlob(res: StreamedResponse, layer: LayerDescription, who: string): void {
  assert.equal(res.error, undefined, `${who}: ${res.error?.message}`);
  assert.equal(res.status, 200, who);
  assert.equal(res.headers['content-length'], String(layer.size), who);
  assert.equal(res.headers['docker-content-digest'], layer.digest, who);
  assert.equal(res.complete, true, who);
  assert.equal(res.bytes, layer.size, who);
  assert.equal(res.digest, layer.digest, who);
}

describe('blob streaming through the endpoint while the origin is slow', { timeout: 180_000 }, () => {
  let registry: RunningRegistry | undefined;
  let proxy: TcpProxy | undefined;
  let peer: RunningPeer | undefined;
  let image: ImageDescription;
  let layer: LayerDescription;

  const blobUrl = (p: RunningPeer, digest = layer.digest) => `${p.url}/v2/stream/big/blobs/${digest}`;

  /** A peer with an empty store, whose origin is reached through the rate-limited proxy. */
  async function freshPeer(): Promise<RunningPeer> {
    await peer?.stop();
    peer = await startPeer({ defaultRegistry: UNREACHABLE, endpoints: { [UNREACHABLE]: proxy!.url } });
    return peer;
  }

  before(async () => {
    registry = await startRegistry();
    const reg = registry;
    const big = await bigLayerImage();
    image = big;
    layer = big.manifests[0]!.layers[0]!;
    assert.ok(layer.size > 200 * 1024 * 1024);
    await pushImage(reg.url, 'stream/big', 'v1', big);
    proxy = await startTcpProxy({ target: reg.host, rateBytesPerSecond: ORIGIN_RATE });
  });

  afterEach(async () => {
    await peer?.stop();
    peer = undefined;
  });

  after(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('serves five concurrent clients from one origin download, first bytes long before the end', async () => {
    const p = await freshPeer();
    const before = proxy!.bytesDown;
    const results = await Promise.all(Array.from({ length: 5 }, () => streamGet(blobUrl(p))));
    for (const [i, res] of results.entries()) assertWholeBlob(res, layer, `client ${i}`);
    const upstream = proxy!.bytesDown - before;
    assert.ok(upstream >= layer.size, `origin sent ${upstream} bytes`);
    assert.ok(upstream < 1.05 * layer.size, `origin sent ${upstream} bytes for a blob of ${layer.size}`);
    assert.equal(await p.metric('shoal_downloaded_bytes_total', { source: 'origin' }), layer.size);
    assert.equal(await p.metric('shoal_tasks_total', { result: 'complete' }), 1);

    // Streamed as it arrives: each client's first byte came early in a download paced by the origin.
    const fullMs = layer.size / (ORIGIN_RATE / 1000);
    for (const [i, res] of results.entries()) {
      assert.ok(res.doneMs > 0.8 * fullMs, `client ${i} done in ${res.doneMs} ms: was the origin throttled?`);
      assert.ok(
        res.firstByteMs! < 0.25 * res.doneMs,
        `client ${i}: first byte after ${res.firstByteMs} ms of a ${res.doneMs} ms download`,
      );
    }
  });

  it('keeps serving the other clients when one goes away early', async () => {
    const p = await freshPeer();
    const quitter = streamGet(blobUrl(p), { abortAfterBytes: 10 * 1024 * 1024 });
    const others = Array.from({ length: 3 }, () => streamGet(blobUrl(p)));
    const left = await quitter;
    assert.equal(left.abandoned, true);
    assert.equal(left.bytes, 10 * 1024 * 1024);
    assert.equal(await p.metric('shoal_active_tasks'), 1, 'the download goes on after the client left');
    const results = await Promise.all(others);
    for (const [i, res] of results.entries()) assertWholeBlob(res, layer, `client ${i}`);
    assert.ok(left.doneMs < Math.min(...results.map((r) => r.doneMs)) / 2);
    assert.equal(await p.metric('shoal_downloaded_bytes_total', { source: 'origin' }), layer.size);
    // A later client gets the complete blob from the store.
    assertWholeBlob(await streamGet(blobUrl(p)), layer, 'late client');
  });

  it('answers HEAD and early ranges while downloading, and the last piece only once verified', async () => {
    const p = await freshPeer();
    const manifest = image.manifests[0]!;
    const expectBlobHead = (res: StreamedResponse, who: string) => {
      assert.equal(res.error, undefined, `${who}: ${res.error?.message}`);
      assert.equal(res.status, 200, who);
      assert.equal(res.headers['content-length'], String(layer.size), who);
      assert.equal(res.headers['docker-content-digest'], layer.digest, who);
      assert.equal(res.headers['content-type'], 'application/octet-stream', who);
      assert.equal(res.bytes, 0, who);
    };

    // HEAD of a blob that is not local: answered from upstream's metadata, no download started.
    expectBlobHead(await streamGet(blobUrl(p), { method: 'HEAD' }), 'HEAD of an absent blob');
    await sleep(200);
    assert.equal(await p.metric('shoal_active_tasks'), 0);
    assert.ok((await p.metric('shoal_downloaded_bytes_total', { source: 'origin' })) < 1024 * 1024);

    const before = proxy!.bytesDown;
    const originSent = () => proxy!.bytesDown - before;
    const full = streamGet(blobUrl(p));
    // Wait until the download is under way (its size is known and bytes arrive).
    await waitFor('the download to start', async () => originSent() > 1024 * 1024, { timeoutMs: 20_000 });

    const first = await streamGet(blobUrl(p), { headers: { range: 'bytes=0-1048575' }, keepBody: true });
    const firstDoneAt = originSent();
    assert.equal(first.status, 206);
    assert.equal(first.headers['content-range'], `bytes 0-1048575/${layer.size}`);
    assert.equal(first.headers['content-length'], '1048576');
    assert.deepEqual(first.body, await fileBytes(layer.path, 0, 1048576));
    assert.ok(firstDoneAt < layer.size / 2, `first range done when the origin had sent ${firstDoneAt}`);

    const middleStart = 8 * 1024 * 1024 + 12_345;
    const middle = await streamGet(blobUrl(p), {
      headers: { range: `bytes=${middleStart}-${middleStart + 999_999}` },
      keepBody: true,
    });
    const middleDoneAt = originSent();
    assert.equal(middle.status, 206);
    assert.equal(
      middle.headers['content-range'],
      `bytes ${middleStart}-${middleStart + 999_999}/${layer.size}`,
    );
    assert.deepEqual(middle.body, await fileBytes(layer.path, middleStart, 1_000_000));
    assert.ok(middleDoneAt < layer.size / 2, `middle range done when the origin had sent ${middleDoneAt}`);
    assert.equal(await p.metric('shoal_active_tasks'), 1, 'still downloading after both ranges');
    expectBlobHead(await streamGet(blobUrl(p), { method: 'HEAD' }), 'HEAD during the download');

    // The tail lies in the last piece, which is only released once the whole digest matched.
    const tail = await streamGet(blobUrl(p), { headers: { range: 'bytes=-100' }, keepBody: true });
    assert.ok(originSent() >= layer.size, `tail answered when the origin had sent ${originSent()}`);
    assert.equal(tail.status, 206);
    assert.equal(tail.headers['content-range'], `bytes ${layer.size - 100}-${layer.size - 1}/${layer.size}`);
    assert.deepEqual(tail.body, await fileBytes(layer.path, layer.size - 100, 100));

    assertWholeBlob(await full, layer, 'full client');
    expectBlobHead(await streamGet(blobUrl(p), { method: 'HEAD' }), 'HEAD of a stored blob');

    // Manifests by tag and by digest: the stored media type, length and digest, no body.
    for (const reference of ['v1', manifest.digest]) {
      const res = await streamGet(`${p.url}/v2/stream/big/manifests/${reference}`, { method: 'HEAD' });
      assert.equal(res.status, 200, reference);
      assert.equal(res.headers['content-type'], manifest.mediaType, reference);
      assert.equal(res.headers['content-length'], String(manifest.size), reference);
      assert.equal(res.headers['docker-content-digest'], manifest.digest, reference);
      assert.equal(res.bytes, 0, reference);
    }
    const get = await streamGet(`${p.url}/v2/stream/big/manifests/v1`, { keepBody: true });
    assert.deepEqual(get.body, manifest.bytes);
  });
});
