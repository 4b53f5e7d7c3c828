import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '@shoal/oci';
import { createLogger } from '@shoal/telemetry';
import { BlobStore } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';

const MIB = 1024 * 1024;

function randomDigest(): Digest {
  return `sha256:${createHash('sha256').update(randomBytes(32)).digest('hex')}` as Digest;
}

describe('eviction when a blob cannot be removed', { timeout: 30_000 }, () => {
  let dir = '';
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-eviction-'));
    process.on('unhandledRejection', onUnhandled);
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await rm(dir, { recursive: true, force: true });
  });

  it('is logged, counted, blocks nothing, and is tried again once the fault is gone', async () => {
    const paths = new StorePaths(join(dir, 'store'));
    await mkdir(paths.blobsDir, { recursive: true });
    // Three cached blobs of 1 MiB, `stuck` the least recently used.
    const [stuck, second, third] = [randomDigest(), randomDigest(), randomDigest()];
    for (const [age, digest] of [stuck, second, third].entries()) {
      await writeFile(paths.blob(digest), randomBytes(MIB));
      const when = new Date(Date.now() - (10 - age) * 60_000);
      await utimes(paths.blob(digest), when, when);
    }
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    const failures: Digest[] = [];
    const evicted: Digest[] = [];
    const store = new BlobStore({
      paths,
      capacity: 4 * MIB,
      logger,
      evictionRetryMs: 500,
      onEvict: (digest) => evicted.push(digest),
      onEvictionFailure: (digest) => failures.push(digest),
    });
    await store.init();
    assert.equal(store.blobCount, 3);

    // The fault: a directory where the blob file was; the two others are being read.
    await rm(paths.blob(stuck));
    await mkdir(join(paths.blob(stuck), 'in-the-way'), { recursive: true });
    const pins = [store.pin(second)!, store.pin(third)!];

    // A new download needs room: eviction fails for `stuck`, and the download goes on.
    const partial = await store.createPartial(randomDigest(), MIB);
    assert.equal(failures[0], stuck);
    assert.ok(store.has(stuck), 'a blob still on disk stays indexed');
    assert.ok(lines.some((line) => line.includes('cannot remove an evicted blob')));
    // The next ones are not held up by the failure either, nor is a disk-full report.
    const another = await store.createPartial(randomDigest(), MIB);
    store.noteRefusedWrite('ENOSPC');
    await store.discardPartial(another);

    // The fault goes away: the retry evicts the blob, without any new download.
    await rm(paths.blob(stuck), { recursive: true });
    // The index lets go of a blob before its file is gone: wait for the eviction itself.
    for (let i = 0; i < 200 && !evicted.includes(stuck); i++) await sleep(50);
    assert.ok(!store.has(stuck), 'evicted on a later try');
    assert.deepEqual(evicted, [stuck]);
    assert.ok(
      failures.every((digest) => digest === stuck),
      'nothing else failed',
    );

    for (const pin of pins) pin.release();
    await store.discardPartial(partial);
    assert.deepEqual(unhandled, []);
  });
});
