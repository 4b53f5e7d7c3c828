import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import type { Digest } from '@shoal/oci';
import fc from 'fast-check';
import type { BodySource } from '../src/endpoint/body-io.ts';
import { blockCheckedBody, CachedBlobMismatchError } from '../src/endpoint/digest-checked-body.ts';
import {
  BlockChecksummer,
  BlockVerifier,
  CHECK_BLOCK_BYTES,
  CheckBlockMismatchError,
  checkBlockCount,
  decodeCheckBlocks,
  encodeCheckBlocks,
} from '../src/store/check-blocks.ts';
import { recordedPieceCheck } from '../src/store/recorded-piece-check.ts';
import { ContiguousHasher } from '../src/task/contiguous-hasher.ts';

const BLOCK = CHECK_BLOCK_BYTES;

/** CRC32 of each block, computed the plain way. */
function expectedSums(bytes: Buffer): number[] {
  const sums: number[] = [];
  for (let at = 0; at < bytes.length; at += BLOCK) sums.push(crc32(bytes.subarray(at, at + BLOCK)));
  return sums;
}

/** Bytes that differ from block to block, so a checksum of the wrong block would not match. */
function blob(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4096) bytes.writeUInt32BE(i, i);
  return bytes;
}

/** `bytes` cut at the given points (as offsets into it). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(at, point));
    at = point;
  }
  return chunks;
}

describe('check blocks', () => {
  it('sums each block the same however the bytes are cut into chunks', () => {
    const bytes = blob(3 * BLOCK + 12345);
    fc.assert(
      fc.property(fc.array(fc.nat(bytes.length), { maxLength: 12 }), (cuts) => {
        const summer = new BlockChecksummer();
        const heard: number[] = [];
        for (const chunk of chunked(bytes, cuts)) summer.feed(chunk, (index) => heard.push(index));
        summer.end((index) => heard.push(index));
        assert.deepEqual([...summer.sums()], expectedSums(bytes));
        assert.deepEqual(heard, [0, 1, 2, 3]);
        assert.equal(summer.position, bytes.length);
      }),
      { numRuns: 50 },
    );
  });

  it('has no short last block when the size is a whole number of blocks, and none at all for no bytes', () => {
    const summer = new BlockChecksummer();
    summer.feed(blob(2 * BLOCK));
    summer.end();
    assert.equal(summer.sums().length, 2);
    assert.equal(checkBlockCount(2 * BLOCK), 2);
    const empty = new BlockChecksummer();
    empty.end();
    assert.equal(empty.sums().length, 0);
    assert.equal(checkBlockCount(0), 0);
  });

  it('stores as text and reads back only a list of exactly one sum per block', () => {
    const sums = Uint32Array.from([0, 1, 0xffffffff, 0x12345678]);
    const text = encodeCheckBlocks(sums);
    assert.deepEqual(decodeCheckBlocks(text, 3 * BLOCK + 1), sums);
    assert.equal(decodeCheckBlocks(text, 3 * BLOCK), undefined, 'one sum too many');
    assert.equal(decodeCheckBlocks(text, 5 * BLOCK), undefined, 'one sum too few');
    assert.equal(decodeCheckBlocks(42, BLOCK), undefined);
    assert.equal(decodeCheckBlocks(undefined, BLOCK), undefined);
  });

  it('fails as the block with a flipped bit completes, not before, and names it', () => {
    const bytes = blob(3 * BLOCK + 100);
    const sums = Uint32Array.from(expectedSums(bytes));
    const rotten = Buffer.from(bytes);
    rotten[2 * BLOCK + 7]! ^= 0x10;
    const verifier = new BlockVerifier(sums);
    verifier.feed(rotten.subarray(0, 2 * BLOCK));
    verifier.feed(rotten.subarray(2 * BLOCK, 3 * BLOCK - 1));
    assert.throws(
      () => verifier.feed(rotten.subarray(3 * BLOCK - 1, 3 * BLOCK)),
      (error) =>
        error instanceof CheckBlockMismatchError && error.block === 2 && /block 2 /.test(error.message),
    );
  });

  it('checks the short last block at the end, and bytes past the recorded blocks fail', () => {
    const bytes = blob(BLOCK + 10);
    const sums = Uint32Array.from(expectedSums(bytes));
    const intact = new BlockVerifier(sums);
    intact.feed(bytes);
    intact.end();
    const rotten = Buffer.from(bytes);
    rotten[BLOCK + 9]! ^= 1;
    const verifier = new BlockVerifier(sums);
    verifier.feed(rotten);
    assert.throws(() => verifier.end(), CheckBlockMismatchError);
    const longer = new BlockVerifier(sums.subarray(0, 1));
    longer.feed(bytes);
    assert.throws(() => longer.end(), CheckBlockMismatchError);
  });

  it('are taken by the whole-blob hash over the same bytes, out-of-order feeds included', () => {
    const bytes = blob(2 * BLOCK + 5);
    const hasher = new ContiguousHasher();
    hasher.feed(0, bytes.subarray(0, 1000));
    hasher.feed(BLOCK, bytes.subarray(BLOCK, 2 * BLOCK)); // a gap: ignored
    hasher.feed(500, bytes.subarray(500, BLOCK + 10)); // overlaps what it has
    hasher.feed(BLOCK + 10, bytes.subarray(BLOCK + 10));
    hasher.digestHex();
    assert.deepEqual([...hasher.checkBlocks()], expectedSums(bytes));
  });
});

describe('a cached blob body checked by blocks', () => {
  const digest = `sha256:${'0'.repeat(64)}` as Digest;

  function memorySource(bytes: Buffer): BodySource & { closed: boolean } {
    let position = 0;
    return {
      closed: false,
      async fill(into) {
        const n = bytes.copy(into, 0, position, Math.min(bytes.length, position + into.length));
        position += n;
        return n;
      },
      async close() {
        this.closed = true;
      },
    };
  }

  async function drain(body: BodySource, chunk: number): Promise<{ passed: number; error?: Error }> {
    const buffer = Buffer.alloc(chunk);
    let passed = 0;
    try {
      for (;;) {
        const n = await body.fill(buffer);
        if (n <= 0) return { passed };
        passed += n;
      }
    } catch (error) {
      return { passed, error: error as Error };
    } finally {
      await body.close();
    }
  }

  it('passes an intact blob whole, and stops before giving out a rotten block', async () => {
    const bytes = blob(4 * BLOCK + 3);
    const sums = Uint32Array.from(expectedSums(bytes));
    const intact = memorySource(bytes);
    assert.deepEqual(await drain(blockCheckedBody(intact, digest, bytes.length, sums), BLOCK), {
      passed: bytes.length,
    });
    assert.equal(intact.closed, true);
    const rotten = Buffer.from(bytes);
    rotten[3 * BLOCK + 1]! ^= 4;
    const source = memorySource(rotten);
    const { passed, error } = await drain(blockCheckedBody(source, digest, bytes.length, sums), BLOCK);
    assert.equal(passed, 3 * BLOCK, 'the blocks before the rotten one only');
    assert.ok(error instanceof CachedBlobMismatchError, String(error));
    assert.match(error.message, /block 3 /);
    assert.equal(source.closed, true);
  });

  it('catches a rotten short last block with the read that brings it', async () => {
    const bytes = blob(BLOCK + 300);
    const sums = Uint32Array.from(expectedSums(bytes));
    const rotten = Buffer.from(bytes);
    rotten[BLOCK + 299]! ^= 1;
    const { passed, error } = await drain(
      blockCheckedBody(memorySource(rotten), digest, bytes.length, sums),
      64 * 1024,
    );
    assert.equal(passed, BLOCK);
    assert.ok(error instanceof CachedBlobMismatchError);
  });
});

describe('the check of a cached piece served to a peer', () => {
  const bytes = blob(4 * BLOCK + 10);
  const pieceSize = 2 * BLOCK;
  const hashOf = (from: number, to: number) =>
    createHash('sha256').update(bytes.subarray(from, to)).digest('hex');
  const record = {
    size: bytes.length,
    pieceSize,
    pieceHashes: [hashOf(0, 2 * BLOCK), hashOf(2 * BLOCK, 4 * BLOCK), hashOf(4 * BLOCK, bytes.length)],
  };
  const rotten = Buffer.from(bytes);
  rotten[2 * BLOCK + 3]! ^= 1; // piece 1, its first block

  it('uses the check blocks when it has them: a rotten block fails as it completes, before the piece ends', () => {
    const check = recordedPieceCheck(
      { ...record, checkBlocks: Uint32Array.from(expectedSums(bytes)) },
      { index: 1, offset: 2 * BLOCK, length: 2 * BLOCK, pieceSize },
    );
    assert.ok(check);
    assert.throws(() => check.feed(rotten.subarray(2 * BLOCK, 3 * BLOCK)), /block 2 /);
    const last = recordedPieceCheck(
      { ...record, checkBlocks: Uint32Array.from(expectedSums(bytes)) },
      { index: 2, offset: 4 * BLOCK, length: 10, pieceSize },
    );
    last!.feed(bytes.subarray(4 * BLOCK));
    last!.end();
  });

  it('falls back to the recorded piece hash, checked at the end, and to nothing without one', () => {
    const check = recordedPieceCheck(record, { index: 1, offset: 2 * BLOCK, length: 2 * BLOCK, pieceSize });
    assert.ok(check);
    check.feed(rotten.subarray(2 * BLOCK, 3 * BLOCK));
    check.feed(rotten.subarray(3 * BLOCK, 4 * BLOCK));
    assert.throws(() => check.end(), /hashes to/);
    const intact = recordedPieceCheck(record, { index: 0, offset: 0, length: 2 * BLOCK, pieceSize });
    intact!.feed(bytes.subarray(0, 2 * BLOCK));
    intact!.end();
    assert.equal(
      recordedPieceCheck(
        { ...record, pieceHashes: [] },
        { index: 0, offset: 0, length: 2 * BLOCK, pieceSize },
      ),
      undefined,
    );
    assert.equal(
      recordedPieceCheck(record, { index: 0, offset: 0, length: 2 * BLOCK, pieceSize: 4 * BLOCK }),
      undefined,
      'another layout',
    );
  });
});
