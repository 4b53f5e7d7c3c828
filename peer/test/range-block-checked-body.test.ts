import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { Digest } from '@shoal/oci';
import type { BodySource } from '../src/endpoint/body-io.ts';
import { CachedBlobMismatchError, rangeBlockCheckedBody } from '../src/endpoint/digest-checked-body.ts';
import { BlockChecksummer, CHECK_BLOCK_BYTES } from '../src/store/check-blocks.ts';

const DIGEST = 'sha256:0000000000000000000000000000000000000000000000000000000000000000' as Digest;
const BLOCK = CHECK_BLOCK_BYTES;

function sumsOf(bytes: Uint8Array): Uint32Array {
  const sums = new BlockChecksummer();
  sums.feed(bytes);
  sums.end();
  return sums.sums();
}

/** The file as a source from `offset` on, in reads of at most `readBytes`; `opened` records the offsets. */
function fileOf(bytes: Uint8Array, opened: number[], readBytes = 300_000) {
  return (offset: number): BodySource => {
    opened.push(offset);
    let position = offset;
    return {
      async fill(into) {
        const take = Math.min(into.length, readBytes, bytes.length - position);
        into.set(bytes.subarray(position, position + take));
        position += take;
        return take;
      },
      close: async () => {},
    };
  };
}

/** Everything the body gives, read in buffers of `bufferBytes` as sendBody would. */
async function drain(body: BodySource, bufferBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for (;;) {
      const into = Buffer.alloc(bufferBytes);
      const filled = await body.fill(into);
      if (filled <= 0) return Buffer.concat(parts);
      parts.push(into.subarray(0, filled));
    }
  } finally {
    await body.close();
  }
}

test('a range is read from the start of its first block and given exactly', async () => {
  const bytes = randomBytes(3 * BLOCK + 12_345);
  const sums = sumsOf(bytes);
  for (const [start, end] of [
    [0, 10],
    [100, BLOCK],
    [BLOCK - 7, BLOCK + 7],
    [BLOCK, 3 * BLOCK],
    [2 * BLOCK + 5, bytes.length],
    [bytes.length - 1, bytes.length],
  ] as const) {
    for (const bufferBytes of [4096, BLOCK]) {
      const opened: number[] = [];
      const body = rangeBlockCheckedBody(
        fileOf(bytes, opened),
        DIGEST,
        bytes.length,
        sums,
        { start, end },
        Buffer.alloc(BLOCK),
      );
      assert.deepEqual(await drain(body, bufferBytes), bytes.subarray(start, end), `[${start}, ${end})`);
      assert.deepEqual(opened, [Math.floor(start / BLOCK) * BLOCK]);
    }
  }
});

test('a rotten block gives none of its bytes, even those the range asks for that are intact', async () => {
  const bytes = randomBytes(3 * BLOCK);
  const sums = sumsOf(bytes);
  bytes[BLOCK + 10]! ^= 1;
  const body = rangeBlockCheckedBody(
    fileOf(bytes, []),
    DIGEST,
    bytes.length,
    sums,
    { start: BLOCK + 500, end: BLOCK + 600 },
    Buffer.alloc(BLOCK),
  );
  await assert.rejects(body.fill(Buffer.alloc(BLOCK)), (error: Error) => {
    assert.ok(error instanceof CachedBlobMismatchError);
    assert.match(error.message, /block 1 \(1048576 bytes\) has CRC32/);
    return true;
  });
  // The blocks before it went out; the rotten one stops the body when it is reached.
  const spanning = rangeBlockCheckedBody(
    fileOf(bytes, []),
    DIGEST,
    bytes.length,
    sums,
    { start: 100, end: 2 * BLOCK },
    Buffer.alloc(BLOCK),
  );
  const first = Buffer.alloc(BLOCK);
  assert.equal(await spanning.fill(first), BLOCK - 100);
  await assert.rejects(spanning.fill(first), CachedBlobMismatchError);
});

test('a file shorter than its blob fails the block it cuts, and its short last block is checked', async () => {
  const bytes = randomBytes(2 * BLOCK + 100);
  const sums = sumsOf(bytes);
  const short = bytes.subarray(0, 2 * BLOCK + 50);
  const body = rangeBlockCheckedBody(
    fileOf(short, []),
    DIGEST,
    bytes.length,
    sums,
    { start: 2 * BLOCK, end: 2 * BLOCK + 10 },
    Buffer.alloc(BLOCK),
  );
  await assert.rejects(body.fill(Buffer.alloc(64)), /ends at 2097202 of 2097252 bytes/);
  const flipped = Buffer.from(bytes);
  flipped[bytes.length - 1]! ^= 0x80;
  const last = rangeBlockCheckedBody(
    fileOf(flipped, []),
    DIGEST,
    bytes.length,
    sums,
    { start: 2 * BLOCK, end: 2 * BLOCK + 10 },
    Buffer.alloc(BLOCK),
  );
  await assert.rejects(last.fill(Buffer.alloc(64)), /block 2 \(1048576 bytes\) has CRC32/);
});

test('a scratch smaller than a check block is refused', () => {
  assert.throws(
    () =>
      rangeBlockCheckedBody(
        fileOf(Buffer.alloc(10), []),
        DIGEST,
        10,
        new Uint32Array(1),
        { start: 0, end: 10 },
        Buffer.alloc(BLOCK - 1),
      ),
    RangeError,
  );
});
