import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { Digest } from '@shoal/oci';
import type { BodySource } from '../src/endpoint/body-io.ts';
import { CachedBlobMismatchError, rangeBlockCheckedBody } from '../src/endpoint/digest-checked-body.ts';
import { BufferPool } from '../src/p2p/buffer-pool.ts';
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

/** The checked body of bytes [start, end) of `onDisk`, a file that should hold the blob summed by `sums`. */
function checkedRange(
  onDisk: Uint8Array,
  sums: Uint32Array,
  size: number,
  start: number,
  end: number,
  options: { opened?: number[]; pool?: BufferPool } = {},
) {
  const pool = options.pool ?? new BufferPool(BLOCK, { maxIdle: 1 });
  return rangeBlockCheckedBody(
    fileOf(onDisk, options.opened ?? []),
    DIGEST,
    size,
    sums,
    { start, end },
    pool,
  );
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
      const pool = new BufferPool(BLOCK, { maxIdle: 1 });
      const body = checkedRange(bytes, sums, bytes.length, start, end, { opened, pool });
      assert.deepEqual(await drain(body, bufferBytes), bytes.subarray(start, end), `[${start}, ${end})`);
      assert.deepEqual(opened, [Math.floor(start / BLOCK) * BLOCK]);
      assert.equal(pool.idle, 1, 'its block buffer is back in the pool once the body is closed');
    }
  }
});

test('a rotten block gives none of its bytes, even those the range asks for that are intact', async () => {
  const bytes = randomBytes(3 * BLOCK);
  const sums = sumsOf(bytes);
  bytes[BLOCK + 10]! ^= 1;
  const body = checkedRange(bytes, sums, bytes.length, BLOCK + 500, BLOCK + 600);
  await assert.rejects(body.fill(Buffer.alloc(BLOCK)), (error: Error) => {
    assert.ok(error instanceof CachedBlobMismatchError);
    assert.match(error.message, /block 1 \(1048576 bytes\) has CRC32/);
    return true;
  });
  // The blocks before it went out; the rotten one stops the body when it is reached.
  const spanning = checkedRange(bytes, sums, bytes.length, 100, 2 * BLOCK);
  const first = Buffer.alloc(BLOCK);
  assert.equal(await spanning.fill(first), BLOCK - 100);
  await assert.rejects(spanning.fill(first), CachedBlobMismatchError);
});

test('a file shorter than its blob fails the block it cuts, and its short last block is checked', async () => {
  const bytes = randomBytes(2 * BLOCK + 100);
  const sums = sumsOf(bytes);
  const tail = [2 * BLOCK, 2 * BLOCK + 10] as const;
  const short = checkedRange(bytes.subarray(0, 2 * BLOCK + 50), sums, bytes.length, ...tail);
  await assert.rejects(short.fill(Buffer.alloc(64)), /ends at 2097202 of 2097252 bytes/);
  const flipped = Buffer.from(bytes);
  flipped[bytes.length - 1]! ^= 0x80;
  const last = checkedRange(flipped, sums, bytes.length, ...tail);
  await assert.rejects(last.fill(Buffer.alloc(64)), /block 2 \(1048576 bytes\) has CRC32/);
});

test('a pool whose buffers are smaller than a check block is refused', () => {
  const pool = new BufferPool(BLOCK - 1, { maxIdle: 1 });
  assert.throws(() => checkedRange(Buffer.alloc(10), new Uint32Array(1), 10, 0, 10, { pool }), RangeError);
});
