import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '@shoal/oci';
import { createLogger } from '@shoal/telemetry';
import { BlobStore } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';

const MIB = 1024 * 1024;

describe('committing a blob', () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-commit-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves no moment when neither the partial nor the store can serve its pieces', async () => {
    const store = new BlobStore({
      paths: new StorePaths(join(dir, 'store')),
      capacity: 16 * MIB,
      logger: createLogger({ level: 'silent' }),
    });
    await store.init();
    const digest = `sha256:${createHash('sha256').update(randomBytes(32)).digest('hex')}` as Digest;
    const partial = await store.createPartial(digest, MIB);

    const committing = store.commit(partial);
    // The store does not have it yet: a piece asked for now is read through the partial.
    assert.equal(store.has(digest), false);
    const lease = partial.lease();
    assert.ok(lease, 'the partial still lends its file while the blob is being committed');
    lease.release();

    await committing;
    assert.ok(store.has(digest), 'the store has it');
    assert.equal(partial.lease(), undefined, 'and the partial is closed');
  });

  it('records the check blocks it is given with the blob, and learns them later only when they differ', async () => {
    const store = new BlobStore({
      paths: new StorePaths(join(dir, 'records')),
      capacity: 16 * MIB,
      logger: createLogger({ level: 'silent' }),
    });
    await store.init();
    const digest = `sha256:${createHash('sha256').update(randomBytes(32)).digest('hex')}` as Digest;
    const partial = await store.createPartial(digest, 2 * MIB + 1);
    const sums = Uint32Array.from([1, 2, 3]);
    await store.commit(partial, sums);
    assert.deepEqual((await store.record(digest))?.checkBlocks, sums);

    const recorded = await readFile(store.paths.blobRecord(digest), 'utf8');
    await store.recordCheckBlocks(digest, Uint32Array.from([1, 2, 3]));
    assert.equal(
      await readFile(store.paths.blobRecord(digest), 'utf8'),
      recorded,
      'the same sums: not written',
    );
    await store.recordCheckBlocks(digest, Uint32Array.from([1, 2, 4]));
    assert.deepEqual((await store.record(digest))?.checkBlocks, Uint32Array.from([1, 2, 4]));
    assert.equal((await store.record(digest))?.size, 2 * MIB + 1, 'the rest of the record kept');
  });
});
