import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '@shoal/oci';
import { createLogger } from '@shoal/telemetry';
import { BlobStore } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';
import { BlobTask } from '../src/task/blob-task.ts';

const KIB = 1024;

function digestOf(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
}

/** Files under `dir` this process holds open. */
async function openFilesUnder(dir: string): Promise<string[]> {
  const open: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(dir)) open.push(target);
  }
  return open;
}

function capturingLogger(lines: string[]) {
  return createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
}

describe('the blob store when its disk misbehaves', () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-store-faults-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('skips a directory where a blob belongs when it indexes the store, with a log line', async () => {
    const paths = new StorePaths(join(dir, 'index'));
    await mkdir(paths.blobsDir, { recursive: true });
    const real = randomBytes(KIB);
    await writeFile(paths.blob(digestOf(real)), real);
    const impostor = digestOf(randomBytes(KIB));
    await mkdir(join(paths.blob(impostor), 'inside'), { recursive: true });
    const lines: string[] = [];
    const store = new BlobStore({ paths, capacity: 1024 * KIB, logger: capturingLogger(lines) });
    await store.init();
    assert.ok(store.has(digestOf(real)));
    assert.ok(!store.has(impostor), 'a directory is not a blob');
    assert.equal(store.blobCount, 1);
    assert.equal(store.usedBytes, KIB);
    assert.ok(lines.some((line) => line.includes('not a regular file where a blob belongs')));
  });

  it('keeps no descriptor open when a partial cannot be set up', async () => {
    const paths = new StorePaths(join(dir, 'partial'));
    const store = new BlobStore({ paths, capacity: 1024 * KIB, logger: createLogger({ level: 'silent' }) });
    await store.init();
    const digest = digestOf(randomBytes(KIB));
    // The piece bitmap cannot be written: a directory is in its way.
    await mkdir(join(paths.partialMeta(digest), 'in-the-way'), { recursive: true });
    await assert.rejects(store.createPartial(digest, 4 * KIB));
    assert.deepEqual(await openFilesUnder(paths.root), []);
  });

  it('does not keep the partial of a download that failed before its first piece', async () => {
    const paths = new StorePaths(join(dir, 'failed'));
    const store = new BlobStore({ paths, capacity: 1024 * KIB, logger: createLogger({ level: 'silent' }) });
    await store.init();
    const blob = randomBytes(8 * KIB);
    const digest = digestOf(blob);
    const task = new BlobTask(digest, store);
    await task.create(blob.length);
    await task.fail(new Error('the origin stalled'));
    // A later attempt learns the size (or that the blob is gone) from its source, not from a leftover.
    const next = new BlobTask(digest, store);
    assert.equal(await next.resume(), false);
    assert.deepEqual(await readdir(paths.partialDir), []);
    assert.deepEqual(await openFilesUnder(paths.root), []);
  });
});
