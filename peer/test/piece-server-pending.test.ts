import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Digest } from '@shoal/oci';
import { createShoalNode, type ShoalNode } from '@shoal/p2p';
import { MAX_PIECE_SIZE, MIB } from '@shoal/protocol';
import { createLogger } from '@shoal/telemetry';
import { nodeSendBudget } from '../src/memory/send-budget.ts';
import { fetchPiece, type PieceFetchError } from '../src/p2p/piece-fetcher.ts';
import { startPieceServer } from '../src/p2p/piece-server.ts';
import { PieceStreams } from '../src/p2p/piece-streams.ts';
import { RateLimiter } from '../src/p2p/rate-limiter.ts';
import { BlobStore } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';
import { BlobTask } from '../src/task/blob-task.ts';
import { FROM_ORIGIN } from '../src/task/source-tally.ts';
import { patternBlob } from './piece-parent.ts';

const logger = createLogger({ level: 'silent' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

describe('a parent asked for a piece it is still downloading (a pending piece)', { timeout: 60_000 }, () => {
  const blob = patternBlob(4 * MIB);
  const pieceOf = (index: number) => blob.bytes.subarray(index * MIB, (index + 1) * MIB);
  let dir = '';
  let task: BlobTask;
  let parent: ShoalNode;
  let child: ShoalNode;
  let streams: PieceStreams;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-pending-'));
    const store = new BlobStore({ paths: new StorePaths(dir), capacity: 1024 * MIB, logger });
    await store.init();
    task = new BlobTask(blob.digest as Digest, store);
    await task.create(blob.bytes.length, MIB);
    await land(0);
    parent = await createShoalNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    });
    await startPieceServer({
      node: parent,
      store,
      uploadSlots: 4,
      limiter: new RateLimiter(0),
      budget: nodeSendBudget(),
      maxPieceSize: MAX_PIECE_SIZE,
      logger,
      findTask: (digest) => (digest === blob.digest ? task : undefined),
    });
    child = await createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: [] });
    streams = new PieceStreams(child, { idleMs: 1_000 });
  });

  after(async () => {
    streams.close();
    await child.stop();
    await parent.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function land(index: number): Promise<void> {
    await task.writeChunks(index * MIB, [pieceOf(index)]);
    await task.landPiece(index, sha256(pieceOf(index)).toString('hex'), FROM_ORIGIN);
  }

  const fetch = (index: number, waitMs?: number) =>
    fetchPiece(streams, {
      parent: parent.peerId.toString(),
      parentAddrs: parent.getMultiaddrs().map((ma) => ma.toString()),
      digest: blob.digest,
      index,
      pieceSize: MIB,
      expectedLength: MIB,
      expectedSha256: sha256(pieceOf(index)),
      timeoutMs: 20_000,
      ...(waitMs === undefined ? {} : { waitMs }),
      limiter: new RateLimiter(0),
    });

  it('answers at once that it does not hold it, to a request without a wait', async () => {
    await assert.rejects(fetch(1), (error: PieceFetchError) => error.code === 'ABSENT');
  });

  it('sends it as soon as it lands, to a request that waits, and times it from its answer', async () => {
    const started = performance.now();
    const pending = fetch(1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await land(1);
    const piece = await pending;
    assert.ok(performance.now() - started >= 400, 'answered before the piece landed');
    assert.ok(Buffer.concat(piece.chunks).equals(pieceOf(1)));
    assert.ok(piece.millis < 400, `timed from the request (${piece.millis} ms), wait included`);
    piece.release();
  });

  it('answers that it does not hold it once the wait is over, the download still running', async () => {
    const started = performance.now();
    await assert.rejects(fetch(2, 300), (error: PieceFetchError) => error.code === 'ABSENT');
    assert.ok(performance.now() - started >= 300, 'answered before the wait was over');
  });

  it('answers that it does not hold it when its download fails meanwhile', async () => {
    const refused = assert.rejects(fetch(3, 10_000), (error: PieceFetchError) => error.code === 'ABSENT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await task.fail(new Error('origin gone'));
    await refused;
  });
});
