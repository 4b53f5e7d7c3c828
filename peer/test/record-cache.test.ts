import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Digest } from '@shoal/oci';
import type { BlobRecord } from '../src/store/blob-record.ts';
import { RecordCache } from '../src/store/record-cache.ts';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
const record = (pieces: number): BlobRecord => ({
  size: pieces,
  pieceSize: 1,
  pieceHashes: Array.from({ length: pieces }, () => 'ab'),
});

test('a record is loaded once, shared by concurrent reads, and kept', async () => {
  const cache = new RecordCache({ maxPieceHashes: 100 });
  let loads = 0;
  const load = async () => {
    loads++;
    return record(3);
  };
  const [a, b] = await Promise.all([cache.get(digest(1), load), cache.get(digest(1), load)]);
  assert.equal(a, b);
  assert.equal(await cache.get(digest(1), load), a);
  assert.equal(loads, 1);
});

test('a missing record or a failed read is not kept', async () => {
  const cache = new RecordCache({ maxPieceHashes: 100 });
  assert.equal(await cache.get(digest(1), async () => undefined), undefined);
  await assert.rejects(cache.get(digest(2), async () => Promise.reject(new Error('EIO'))));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(cache.size, 0);
  assert.deepEqual(await cache.get(digest(1), async () => record(2)), record(2));
});

test('set replaces and delete drops, also while a read is under way', async () => {
  const cache = new RecordCache({ maxPieceHashes: 100 });
  const slow = Promise.withResolvers<BlobRecord | undefined>();
  const reading = cache.get(digest(1), () => slow.promise);
  const written = record(5);
  cache.set(digest(1), written);
  slow.resolve(record(1));
  assert.deepEqual(await reading, record(1), 'the read under way answers what it read');
  assert.equal(await cache.get(digest(1), async () => record(9)), written, 'the written record stays');
  cache.delete(digest(1));
  assert.deepEqual(await cache.get(digest(1), async () => record(7)), record(7));
});

test('bounded by the piece hashes it holds: the least recently used go first', async () => {
  const cache = new RecordCache({ maxPieceHashes: 25 });
  cache.set(digest(1), record(9)); // weight 10
  cache.set(digest(2), record(9));
  await cache.get(digest(1), async () => record(0)); // used: 2 is now the oldest
  cache.set(digest(3), record(9)); // 30 > 25: 2 goes
  assert.equal(cache.size, 2);
  let loaded = false;
  await cache.get(digest(2), async () => {
    loaded = true;
    return record(9);
  });
  assert.equal(loaded, true, 'the least recently used was dropped');
  // One record heavier than the bound is still kept, alone.
  cache.set(digest(4), record(100));
  assert.equal(cache.size, 1);
});
