import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '@shoal/oci';
import { createLogger } from '@shoal/telemetry';
import { BufferPool } from '../src/p2p/buffer-pool.ts';
import { BlobStore } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';
import { BlobTask } from '../src/task/blob-task.ts';
import { DigestMismatchError } from '../src/task/errors.ts';
import { FROM_ORIGIN } from '../src/task/source-tally.ts';

const MIB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('whole-blob hashing', { timeout: 60_000 }, () => {
  let dir = '';
  let store: BlobStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-hashing-'));
    store = new BlobStore({
      paths: new StorePaths(join(dir, 'store')),
      capacity: 1024 * MIB,
      logger: createLogger({ level: 'silent' }),
    });
    await store.init();
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Lands the pieces of `blob` in `order`, each with its own hash; `served` may differ from `blob`. */
  async function assemble(task: BlobTask, blob: Buffer, order: number[], served = blob): Promise<void> {
    const pieceSize = MIB;
    await task.create(blob.length, pieceSize);
    await Promise.all(
      order.map(async (index) => {
        const bytes = served.subarray(index * pieceSize, (index + 1) * pieceSize);
        // Two chunks per piece, as pieces arrive from the network.
        await task.writeChunks(index * pieceSize, [bytes.subarray(0, 1000), bytes.subarray(1000)]);
        await task.landPiece(index, sha256(bytes), FROM_ORIGIN);
      }),
    );
  }

  it('a resumed partial feeds its verified prefix to the whole-blob hash in the one read that checks it', async () => {
    const blob = randomBytes(5 * MIB + 123);
    const digest = `sha256:${sha256(blob)}` as Digest;
    const first = new BlobTask(digest, store);
    await first.create(blob.length, MIB);
    for (const index of [0, 1, 3]) {
      const bytes = blob.subarray(index * MIB, (index + 1) * MIB);
      await first.writeChunks(index * MIB, [bytes]);
      await first.landPiece(index, sha256(bytes), FROM_ORIGIN);
    }
    await store.suspendPartial(first.partial!);

    const resumed = new BlobTask(digest, store);
    assert.equal(await resumed.resume(), true);
    // Pieces 0 and 1 are the prefix; piece 3 lies after a gap and is hashed once the gap fills.
    assert.equal(resumed.hashedBytes, 2 * MIB);
    for (const index of [2, 4, 5]) {
      const bytes = blob.subarray(index * MIB, (index + 1) * MIB);
      await resumed.writeChunks(index * MIB, [bytes]);
      await resumed.landPiece(index, sha256(bytes), FROM_ORIGIN);
    }
    await resumed.finished;
    assert.deepEqual(await readFile(store.paths.blob(digest)), blob);

    // A piece that rotted on disk is dropped, and the prefix stops before it.
    const other = randomBytes(4 * MIB);
    const otherDigest = `sha256:${sha256(other)}` as Digest;
    const writer = new BlobTask(otherDigest, store);
    await writer.create(other.length, MIB);
    for (const index of [0, 1, 2]) {
      const bytes = other.subarray(index * MIB, (index + 1) * MIB);
      await writer.writeChunks(index * MIB, [bytes]);
      await writer.landPiece(index, sha256(bytes), FROM_ORIGIN);
    }
    await writer.partial!.writev(MIB + 5, [Buffer.from('rot')]);
    await store.suspendPartial(writer.partial!);
    const again = new BlobTask(otherDigest, store);
    assert.equal(await again.resume(), true);
    assert.equal(again.hashedBytes, MIB);
    assert.equal(again.has(1), false);
    assert.equal(again.has(2), true);
  });

  it('a source resuming while another creates the partial waits for it and keeps its files', async () => {
    const blob = randomBytes(3 * MIB + 5);
    const digest = `sha256:${sha256(blob)}` as Digest;
    const task = new BlobTask(digest, store);
    // The scheduled download creates the partial; a fallback starting at that moment resumes.
    const [, resumed] = await Promise.all([task.create(blob.length, MIB), task.resume()]);
    assert.equal(resumed, true);
    await task.create(blob.length, MIB);
    await assert.rejects(task.create(blob.length + 1, MIB), /already has a partial/);
    for (const index of [0, 1, 2, 3]) {
      const bytes = blob.subarray(index * MIB, (index + 1) * MIB);
      await task.writeChunks(index * MIB, [bytes]);
      await task.landPiece(index, sha256(bytes), FROM_ORIGIN);
    }
    await task.finished;
    assert.deepEqual(await readFile(store.paths.blob(digest)), blob);
  });

  it(`completes a blob whose pieces land out of order`, async () => {
    const blob = randomBytes(3 * MIB + 777);
    const digest = `sha256:${sha256(blob)}` as Digest;
    const task = new BlobTask(digest, store);
    await assemble(task, blob, [2, 0, 3, 1]);
    await task.finished;
    assert.equal(task.state, 'complete');
    assert.equal(task.hashedBytes, blob.length);
    assert.deepEqual(await readFile(store.paths.blob(digest)), blob);
  });

  it(`hashes right when catch-ups overlap`, async () => {
    // Landings that come while the hash is catching up start catch-ups of their own.
    const pieceSize = 4 * MIB;
    const count = 10;
    const blob = randomBytes(count * pieceSize - 99);
    const digest = `sha256:${sha256(blob)}` as Digest;
    const task = new BlobTask(digest, store);
    await task.create(blob.length, pieceSize);
    const piece = (index: number) => blob.subarray(index * pieceSize, (index + 1) * pieceSize);
    for (let index = 1; index < count; index++) {
      await task.writeChunks(index * pieceSize, [piece(index)]);
      await task.landPiece(index, sha256(piece(index)), FROM_ORIGIN);
    }
    await task.writeChunks(0, [piece(0)]);
    await Promise.all([
      task.landPiece(0, sha256(piece(0)), FROM_ORIGIN),
      ...Array.from({ length: 20 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i));
        if (task.state === 'downloading') await task.catchUpHash();
      }),
    ]);
    await task.finished;
    assert.deepEqual(await readFile(store.paths.blob(digest)), blob);
  });

  it(`fails a blob whose bytes do not hash to its digest`, async () => {
    const blob = randomBytes(2 * MIB + 5);
    const wrong = Buffer.from(blob);
    wrong[MIB + 17]! ^= 0xff;
    const digest = `sha256:${sha256(blob)}` as Digest;
    const task = new BlobTask(digest, store);
    await assemble(task, blob, [1, 2, 0], wrong);
    await assert.rejects(task.finished, DigestMismatchError);
    assert.equal(task.state, 'failed');
    assert.equal(store.has(digest), false);
  });

  it('a lease taken on a partial still reads its bytes after the blob completed and the partial closed', async () => {
    const blob = randomBytes(MIB + 5);
    const digest = `sha256:${sha256(blob)}` as Digest;
    const task = new BlobTask(digest, store);
    await task.create(blob.length, MIB);
    await task.writeChunks(0, [blob.subarray(0, MIB)]);
    await task.landPiece(0, sha256(blob.subarray(0, MIB)), FROM_ORIGIN);
    const partial = task.partial!;
    // An upload of piece 0 has begun when the last piece lands and the blob is committed.
    const lease = partial.lease();
    assert.ok(lease);
    await task.writeChunks(MIB, [blob.subarray(MIB)]);
    await task.landPiece(1, sha256(blob.subarray(MIB)), FROM_ORIGIN);
    await task.finished;
    assert.equal(store.has(digest), true);
    assert.equal(partial.lease(), undefined, 'a closed partial gives no new lease');
    const read = Buffer.alloc(MIB);
    await lease.readInto(read, 0);
    assert.ok(read.equals(blob.subarray(0, MIB)));
    lease.release();
    lease.release();
    await assert.rejects(partial.readInto(Buffer.alloc(1), 0), /closed/);
  });
});

describe('BufferPool', () => {
  it('hands a given-back buffer out again, once, and only buffers of its size', () => {
    const pool = new BufferPool(1024, { maxIdle: 2 });
    const a = pool.take();
    assert.equal(a.length, 1024);
    pool.give(a);
    pool.give(a);
    pool.give(Buffer.alloc(10));
    assert.equal(pool.idle, 1);
    assert.equal(pool.take(), a);
    assert.notEqual(pool.take(), a);
  });

  it('keeps at most maxIdle buffers and drops them after a quiet spell', async () => {
    const pool = new BufferPool(16, { maxIdle: 2, idleMs: 20 });
    for (const buffer of [pool.take(), pool.take(), pool.take()]) pool.give(buffer);
    assert.equal(pool.idle, 2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(pool.idle, 0);
  });
});
