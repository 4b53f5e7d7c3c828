import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { createShoalNode, type ShoalNode } from '@shoal/p2p';
import { MIB, pieceLayout, pieceStart } from '@shoal/protocol';
import { nodeSendBudget, type SendBudget } from '../src/memory/send-budget.ts';
import { PieceStreams } from '../src/p2p/piece-streams.ts';
import { patternBlob, startBlobParent, verifiedPiece } from './piece-parent.ts';

/**
 * Big pieces, several at once, a small budget: the answers together want more
 * than the part of the budget not kept in reserve (the shape of a 20 GB blob's
 * 8 MiB pieces served to a busy child from a 64 MiB budget).
 */
const PIECE = 4 * MIB;
const blob = patternBlob(8 * PIECE);
const layout = pieceLayout(blob.bytes.length, PIECE);

describe('a piece server whose answers together outgrow its send budget', () => {
  let served: Awaited<ReturnType<typeof startBlobParent>>;
  let child: ShoalNode;
  let budget: SendBudget;

  before(async () => {
    // 8 MiB: 4 MiB kept in reserve (a page each for 128 senders), 4 MiB to widen windows.
    budget = nodeSendBudget({ bufferBytes: 8 * MIB });
    served = await startBlobParent(blob, { uploadSlots: 8, budget });
    child = await createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: [] });
  });

  after(async () => {
    await child.stop();
    await served.stop();
  });

  it('answers every request: none holds part of the budget while it waits for the rest', async () => {
    // A kept answer holds its memory until its stream is asked again or let go: this requester lets
    // idle streams go soon, so each answer waits for an earlier one at most that long.
    const streams = new PieceStreams(child, { idleMs: 100 });
    for (let round = 0; round < 2; round++) {
      const indices = [0, 1, 2].map((n) => 3 * round + n);
      const pieces = await Promise.all(
        indices.map((index) => verifiedPiece(streams, served.node, blob, layout, index)),
      );
      for (const [n, piece] of pieces.entries()) {
        const start = pieceStart(layout, indices[n]!);
        assert.ok(Buffer.concat(piece.chunks).equals(blob.bytes.subarray(start, start + piece.length)));
        piece.release();
      }
    }
    streams.close();
    assert.ok(budget.heldBytes <= budget.totalBytes, `held ${budget.heldBytes}`);
  });
});
