import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import type { Digest } from '@shoal/oci';
import { createLogger } from '@shoal/telemetry';
import { BlobStore, type CorruptionCheck } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';
import { pauseAfter, startScrubber } from '../src/store/scrubber.ts';

const MIB = 1024 * 1024;
const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;

describe('pauseAfter', () => {
  it('spreads reads over time at the budget, counting the time the read took', () => {
    assert.equal(pauseAfter(MIB, 0, MIB), 1000);
    assert.equal(pauseAfter(MIB, 400, MIB), 600);
    assert.equal(pauseAfter(MIB, 2000, MIB), 0);
    assert.equal(pauseAfter(MIB / 4, 0, 2 * MIB), 125);
  });
});

describe('the background scrub', { timeout: 30_000 }, () => {
  let dir = '';
  let paths: StorePaths;
  const good = Buffer.alloc(3 * MIB, 7);
  const rotten = Buffer.alloc(MIB, 9);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-scrub-'));
    paths = new StorePaths(join(dir, 'store'));
    await mkdir(paths.blobsDir, { recursive: true });
    await writeFile(paths.blob(digestOf(good)), good);
    // A record from before check blocks: the scrub learns them from the bytes it verified.
    await mkdir(paths.blobRecordsDir, { recursive: true });
    await writeFile(
      paths.blobRecord(digestOf(good)),
      JSON.stringify({ size: good.length, pieceSize: MIB, pieceHashes: [] }),
    );
    const flipped = Buffer.from(rotten);
    flipped.writeUInt8(flipped.readUInt8(MIB - 1) ^ 1, MIB - 1);
    await writeFile(paths.blob(digestOf(rotten)), flipped);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('re-hashes every blob within its I/O budget, evicts the rotten one, then rests until they are due', async () => {
    let clock = 1_000_000;
    const corrupt: [Digest, CorruptionCheck][] = [];
    const store = new BlobStore({
      paths,
      capacity: 100 * MIB,
      logger: createLogger({ level: 'silent' }),
      now: () => clock,
      onCorrupt: (digest, foundBy) => corrupt.push([digest, foundBy]),
    });
    await store.init();
    const sleeps: number[] = [];
    const rested = Promise.withResolvers<void>();
    let scrubbed = 0;
    const scrubber = startScrubber({
      store,
      bytesPerSecond: MIB,
      reverifyAfterMs: 3_600_000,
      idleMs: 60_000,
      logger: createLogger({ level: 'silent' }),
      now: () => clock,
      onBytes: (bytes) => {
        scrubbed += bytes;
      },
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
        if (ms === 60_000) rested.resolve();
        await new Promise(setImmediate);
      },
    });
    await rested.promise;
    await scrubber.stop();
    assert.equal(scrubbed, good.length + rotten.length);
    // One second per MiB read (the fake clock does not move while reading), then the idle wait.
    const reading = sleeps.slice(0, sleeps.indexOf(60_000));
    assert.deepEqual(reading, [1000, 1000, 1000, 1000]);
    assert.deepEqual(corrupt, [[digestOf(rotten), 'scrub']]);
    assert.equal(store.has(digestOf(rotten)), false);
    assert.equal(store.has(digestOf(good)), true);
    assert.deepEqual(
      (await store.record(digestOf(good)))?.checkBlocks,
      Uint32Array.from([0, 1, 2].map((i) => crc32(good.subarray(i * MIB, (i + 1) * MIB)))),
    );
    // Verified at the fake time it finished: not due again until an hour later.
    assert.equal(store.leastRecentlyVerified(clock - 3_600_000), undefined);
    assert.equal(store.leastRecentlyVerified(clock + 3_600_000)?.digest, digestOf(good));
  });
});
