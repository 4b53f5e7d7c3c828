import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { type Digest, digestHex } from '@shoal/oci';
import { createShoalNode, type ShoalNode } from '@shoal/p2p';
import { MAX_PIECE_SIZE, MIB, pieceLayout, pieceLength, pieceStart } from '@shoal/protocol';
import { createLogger } from '@shoal/telemetry';
import { nodeSendBudget, type SendBudget } from '../src/memory/send-budget.ts';
import { fetchPiece } from '../src/p2p/piece-fetcher.ts';
import { startPieceServer } from '../src/p2p/piece-server.ts';
import { PieceStreams } from '../src/p2p/piece-streams.ts';
import { RateLimiter } from '../src/p2p/rate-limiter.ts';
import { BlobStore } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';

const logger = createLogger({ level: 'silent' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

/**
 * Big pieces, several at once, a small budget: the answers together want more
 * than the part of the budget not kept in reserve (the shape of a 20 GB blob's
 * 8 MiB pieces served to a busy child from a 64 MiB budget).
 */
const PIECE = 4 * MIB;
const blob = Buffer.alloc(8 * PIECE);
for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 2654435761) >>> 0, i);
const digest = `sha256:${sha256(blob).toString('hex')}` as Digest;
const layout = pieceLayout(blob.length, PIECE);

describe('a piece server whose answers together outgrow its send budget', () => {
  let dir: string;
  let parent: ShoalNode;
  let child: ShoalNode;
  let budget: SendBudget;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-piece-budget-'));
    const paths = new StorePaths(dir);
    await mkdir(paths.blobsDir, { recursive: true });
    await writeFile(join(paths.blobsDir, digestHex(digest)), blob);
    const store = new BlobStore({ paths, capacity: 2 ** 30, logger });
    await store.init();
    parent = await createShoalNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    });
    child = await createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: [] });
    // 8 MiB: 4 MiB kept in reserve (a page each for 128 senders), 4 MiB to widen windows.
    budget = nodeSendBudget({ bufferBytes: 8 * MIB });
    await startPieceServer({
      node: parent,
      store,
      uploadSlots: 8,
      limiter: new RateLimiter(0),
      budget,
      maxPieceSize: MAX_PIECE_SIZE,
      logger,
    });
  });

  after(async () => {
    await child.stop();
    await parent.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers every request: none holds part of the budget while it waits for the rest', async () => {
    // A kept answer holds its memory until its stream is asked again or let go: this requester lets
    // idle streams go soon, so each answer waits for an earlier one at most that long.
    const streams = new PieceStreams(child, { idleMs: 100 });
    const fetchOne = (index: number) => {
      const start = pieceStart(layout, index);
      const bytes = blob.subarray(start, start + pieceLength(layout, index));
      return fetchPiece(streams, {
        parent: parent.peerId.toString(),
        parentAddrs: parent.getMultiaddrs().map((ma) => ma.toString()),
        digest,
        index,
        pieceSize: layout.pieceSize,
        expectedLength: bytes.length,
        expectedSha256: sha256(bytes),
        timeoutMs: 10_000,
        limiter: new RateLimiter(0),
      });
    };
    for (let round = 0; round < 2; round++) {
      const pieces = await Promise.all([0, 1, 2].map((n) => fetchOne(3 * round + n)));
      for (const [n, piece] of pieces.entries()) {
        const start = pieceStart(layout, 3 * round + n);
        assert.ok(Buffer.concat(piece.chunks).equals(blob.subarray(start, start + piece.length)));
        piece.release();
      }
    }
    streams.close();
    assert.ok(budget.heldBytes <= budget.totalBytes, `held ${budget.heldBytes}`);
  });
});
