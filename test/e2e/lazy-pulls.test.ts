import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { pushBlob, rawBlob } from '../fixtures/images.ts';
import { waitFor } from '../fixtures/net.ts';
import { readRange } from '../fixtures/range-client.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';

const UNREACHABLE = 'registry.invalid:5000';
const MIB = 1024 * 1024;
const SIZE = 192 * MIB;
/** Origin egress: the whole blob takes about 5 s, in order. */
const ORIGIN_RATE = 40e6;
/** 2 MiB pieces for a blob this size (DEFAULT_PIECE_SIZE). */
const PIECE = 2 * MIB;

async function fileBytes(path: string, start: number, length: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, start);
    return buffer;
  } finally {
    await file.close();
  }
}

describe('lazy pulls: a Range of a blob not cached is fetched first', { timeout: 180_000 }, () => {
  let registry: RunningRegistry | undefined;
  let proxy: TcpProxy | undefined;
  let peer: RunningPeer | undefined;
  const blobs: { digest: string; size: number; path: string }[] = [];

  const url = (p: RunningPeer, digest: string) => `${p.url}/v2/lazy/model/blobs/${digest}`;

  before(async () => {
    registry = await startRegistry();
    for (const seed of ['lazy-a', 'lazy-b']) {
      const blob = await rawBlob(seed, SIZE);
      await pushBlob(registry.url, 'lazy/model', blob);
      blobs.push(blob);
    }
    proxy = await startTcpProxy({ target: registry.host, rateBytesPerSecond: ORIGIN_RATE });
  });

  afterEach(async () => {
    await peer?.stop();
    peer = undefined;
  });

  after(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  async function freshPeer(): Promise<RunningPeer> {
    peer = await startPeer({ defaultRegistry: UNREACHABLE, endpoints: { [UNREACHABLE]: proxy!.url } });
    return peer;
  }

  it('answers a range deep in a cold blob long before the download reaches it, then completes the blob', async () => {
    const p = await freshPeer();
    const blob = blobs[0]!;
    const before = proxy!.bytesDown;
    const offset = 160 * MIB;
    const read = await readRange(url(p, blob.digest), offset, MIB);
    const originSentByThen = proxy!.bytesDown - before;
    assert.deepEqual(read.body, await fileBytes(blob.path, offset, MIB));
    assert.equal(read.total, SIZE);
    // In order, the download would have had to carry 161 MiB first (about 4 s at the origin's rate).
    assert.ok(
      originSentByThen < offset / 2,
      `the range came when the origin had sent ${originSentByThen} bytes`,
    );
    assert.ok(read.lastByteMs < 3_000, `range answered in ${Math.round(read.lastByteMs)} ms`);

    // The download goes on in the background and completes: the range's piece is not fetched twice
    // into the store, and the whole blob is verified.
    await waitFor(
      'the blob to complete',
      async () => (await p.metric('shoal_tasks_total', { result: 'complete' })) === 1,
      {
        timeoutMs: 60_000,
      },
    );
    const whole = await streamGet(url(p, blob.digest));
    assert.equal(whole.status, 200);
    assert.equal(whole.digest, blob.digest);
    // The in-order stream passes over the piece fetched first (it only hashes it): at most that piece again.
    const fromOrigin = await p.metric('shoal_downloaded_bytes_total', { source: 'origin' });
    assert.ok(fromOrigin >= SIZE && fromOrigin <= SIZE + 2 * PIECE, `${fromOrigin} bytes from the origin`);
    assert.ok(proxy!.bytesDown - before <= SIZE + 3 * PIECE, `origin egress ${proxy!.bytesDown - before}`);
  });

  it('serves ranges spread over a blob while a whole-blob client downloads it, all bytes right', async () => {
    const p = await freshPeer();
    const blob = blobs[1]!;
    const before = proxy!.bytesDown;
    const originSent = () => proxy!.bytesDown - before;
    const full = streamGet(url(p, blob.digest));
    await waitFor('the download to start', async () => originSent() > 4 * MIB, { timeoutMs: 20_000 });
    // Like a snapshotter: a table of contents near the end, then chunks here and there,
    // one across a piece boundary, one inside a piece, one of many pieces.
    const reads: [number, number][] = [
      [SIZE - 3 * PIECE - 5000, 4096],
      [100 * MIB - 100_000, 300_000],
      [60 * MIB + 12_345, 777],
      [130 * MIB, 9 * MIB + 1],
    ];
    for (const [offset, length] of reads) {
      const read = await readRange(url(p, blob.digest), offset, length);
      assert.deepEqual(read.body, await fileBytes(blob.path, offset, length), `range at ${offset}`);
      assert.ok(
        originSent() < Math.max(offset, SIZE / 2),
        `range at ${offset} came when the origin had sent ${originSent()}`,
      );
    }
    const whole = await full;
    assert.equal(whole.error, undefined, whole.error?.message);
    assert.equal(whole.bytes, SIZE);
    assert.equal(whole.digest, blob.digest);
    assert.equal(await p.metric('shoal_tasks_total', { result: 'complete' }), 1);
    assert.equal(await p.metric('shoal_tasks_total', { result: 'failed' }), 0);
  });
});
