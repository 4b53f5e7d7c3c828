import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Digest } from '@shoal/oci';
import { createShoalNode, type ShoalNode } from '@shoal/p2p';
import { MIB, pieceLayout, pieceLength, pieceStart } from '@shoal/protocol';
import { PieceStreams } from '../src/p2p/piece-streams.ts';
import type { BlobRecord } from '../src/store/blob-record.ts';
import type { CorruptionCheck } from '../src/store/blob-store.ts';
import { patternBlob, sha256, startBlobParent, verifiedPiece } from './piece-parent.ts';

/** A blob of two 2 MiB pieces and a short third one: five 1 MiB check blocks. */
const blob = patternBlob(4 * MIB + 300_000);
const layout = pieceLayout(blob.bytes.length, 2 * MIB);

function recordOf(bytes: Buffer, options: { checkBlocks: boolean }): BlobRecord {
  const pieceHashes = Array.from({ length: layout.count }, (_, i) =>
    sha256(bytes.subarray(pieceStart(layout, i), pieceStart(layout, i) + pieceLength(layout, i))).toString(
      'hex',
    ),
  );
  const sums = [];
  for (let at = 0; at < bytes.length; at += MIB) sums.push(crc32(bytes.subarray(at, at + MIB)));
  return {
    size: bytes.length,
    pieceSize: layout.pieceSize,
    pieceHashes,
    ...(options.checkBlocks ? { checkBlocks: Uint32Array.from(sums) } : {}),
  };
}

describe('a cached piece that rotted on disk', () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const stop of stops) await stop();
  });

  async function serveRotten(options: { checkBlocks: boolean }) {
    const onDisk = Buffer.from(blob.bytes);
    onDisk[pieceStart(layout, 1) + MIB + 5]! ^= 0x20; // in piece 1's second block
    const corrupt: [Digest, CorruptionCheck][] = [];
    const parent = await startBlobParent(blob, {
      record: recordOf(blob.bytes, options),
      onDisk,
      onCorrupt: (digest, foundBy) => corrupt.push([digest, foundBy]),
    });
    const child: ShoalNode = await createShoalNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: [],
    });
    stops.push(
      async () => {
        await child.stop();
      },
      () => parent.stop(),
    );
    const streams = new PieceStreams(child);
    // An intact piece first: served, and nothing counted.
    const first = await verifiedPiece(streams, parent.node, blob, layout, 0);
    first.release();
    assert.deepEqual(corrupt, []);
    // The rotten one goes out as read (the requester's piece table catches it), and the copy is dropped.
    await assert.rejects(
      verifiedPiece(streams, parent.node, blob, layout, 1),
      (error: Error & { code?: string }) => error.code === 'MISMATCH',
    );
    streams.close();
    assert.deepEqual(corrupt, [[blob.digest, 'piece']]);
    assert.equal(parent.store.has(blob.digest), false);
  }

  it('is found by its check block, and its blob dropped', async () => {
    await serveRotten({ checkBlocks: true });
  });

  it('is found by its recorded piece hash when the record has no check blocks', async () => {
    await serveRotten({ checkBlocks: false });
  });
});
