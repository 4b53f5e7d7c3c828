import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { byteStream } from '@libp2p/utils';
import { createShoalNode, frame, readFrame, type ShoalNode } from '@shoal/p2p';
import {
  MIB,
  PIECE_PROTOCOL_SEQUENTIAL,
  PieceRequest,
  PieceResponse,
  PieceStatus,
  pieceLayout,
  pieceLength,
  pieceStart,
} from '@shoal/protocol';
import { fetchPiece } from '../src/p2p/piece-fetcher.ts';
import { PieceStreams } from '../src/p2p/piece-streams.ts';
import { RateLimiter } from '../src/p2p/rate-limiter.ts';
import { patternBlob, sha256, startBlobParent, verifiedPiece } from './piece-parent.ts';

/** A blob of three pieces (2 MiB, 2 MiB, 1 MiB) with bytes that differ from piece to piece. */
const pattern = patternBlob(5 * MIB);
const blob = pattern.bytes;
const digest = pattern.digest;
const layout = pieceLayout(blob.length);

const newNode = async () =>
  createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });

const pieceRequest = (parent: ShoalNode, streams: PieceStreams, index: number) =>
  verifiedPiece(streams, parent, pattern, layout, index);

/** Open piece streams on the parent's side of its connections, by protocol. */
function openStreams(parent: ShoalNode, protocol: string): number {
  return parent
    .getConnections()
    .flatMap((connection) => connection.streams)
    .filter((stream) => stream.protocol === protocol && stream.status === 'open').length;
}

async function until(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5_000; !condition(); ) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('piece streams kept between pieces', () => {
  let parentNode: Awaited<ReturnType<typeof startBlobParent>>;
  let parent: ShoalNode;
  let child: ShoalNode;

  before(async () => {
    parentNode = await startBlobParent(pattern);
    parent = parentNode.node;
    child = await newNode();
  });

  after(async () => {
    await child.stop();
    await parentNode.stop();
  });

  it('fetches piece after piece from one parent over one stream, each verified', async () => {
    const streams = new PieceStreams(child);
    for (let index = 0; index < layout.count; index++) {
      const piece = await pieceRequest(parent, streams, index);
      const expected = blob.subarray(pieceStart(layout, index), pieceStart(layout, index) + piece.length);
      assert.ok(Buffer.concat(piece.chunks).equals(expected), `piece ${index} bytes`);
      piece.release();
    }
    assert.equal(streams.idleCount(parent.peerId.toString()), 1);
    assert.equal(openStreams(parent, PIECE_PROTOCOL_SEQUENTIAL), 1);
    streams.close();
  });

  it('keeps one stream for each of several fetches at a time', async () => {
    const streams = new PieceStreams(child);
    for (let round = 0; round < 3; round++) {
      const pieces = await Promise.all([0, 1, 2].map((index) => pieceRequest(parent, streams, index)));
      for (const piece of pieces) piece.release();
    }
    assert.equal(streams.idleCount(parent.peerId.toString()), 3);
    streams.close();
  });

  it('closes idle streams after their idle time, and the parent forgets them', async () => {
    // The earlier tests' streams close in the background.
    await until(() => openStreams(parent, PIECE_PROTOCOL_SEQUENTIAL) === 0);
    const streams = new PieceStreams(child, { idleMs: 50 });
    (await pieceRequest(parent, streams, 0)).release();
    assert.equal(streams.idleCount(parent.peerId.toString()), 1);
    assert.equal(openStreams(parent, PIECE_PROTOCOL_SEQUENTIAL), 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(streams.idleCount(parent.peerId.toString()), 0);
    await until(() => openStreams(parent, PIECE_PROTOCOL_SEQUENTIAL) === 0);
  });

  it('does not keep a stream whose parent answered with a piece that fails the piece table', async () => {
    const streams = new PieceStreams(child);
    await assert.rejects(
      fetchPiece(streams, {
        parent: parent.peerId.toString(),
        parentAddrs: [],
        digest,
        index: 0,
        pieceSize: layout.pieceSize,
        expectedLength: layout.pieceSize,
        expectedSha256: sha256(Buffer.from('not this piece')),
        timeoutMs: 10_000,
        limiter: new RateLimiter(0),
      }),
      (error: Error & { code?: string }) => error.code === 'MISMATCH',
    );
    assert.equal(streams.idleCount(parent.peerId.toString()), 0);
  });

  it('keeps the stream after a "not found" answer and serves the next request on it', async () => {
    const streams = new PieceStreams(child);
    const absent = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(
      fetchPiece(streams, {
        parent: parent.peerId.toString(),
        parentAddrs: [],
        digest: absent,
        index: 0,
        pieceSize: layout.pieceSize,
        expectedLength: layout.pieceSize,
        expectedSha256: new Uint8Array(0),
        timeoutMs: 10_000,
        limiter: new RateLimiter(0),
      }),
      /status 1/,
    );
    assert.equal(streams.idleCount(parent.peerId.toString()), 1);
    const piece = await pieceRequest(parent, streams, 0);
    piece.release();
    assert.equal(streams.idleCount(parent.peerId.toString()), 1);
    streams.close();
  });
});

describe('piece streams with parents that do not keep them', () => {
  let parent: ShoalNode;
  let child: ShoalNode;
  let streamsOpened: number;

  before(async () => {
    parent = await newNode();
    child = await newNode();
    streamsOpened = 0;
    // Answers the first request of each stream, then drops the stream at the next: as a parent
    // that let an idle stream go while the requester was already asking on it.
    await parent.handle(PIECE_PROTOCOL_SEQUENTIAL, (stream: Stream) => {
      streamsOpened++;
      void (async () => {
        const bytes = byteStream(stream);
        const request = PieceRequest.decode(await readFrame(bytes, 1024));
        const piece = blob.subarray(
          pieceStart(layout, request.index),
          pieceStart(layout, request.index) + pieceLength(layout, request.index),
        );
        const header = {
          status: PieceStatus.ok,
          length: piece.length,
          sha256: sha256(piece),
          message: '',
          blobSize: blob.length,
        };
        stream.send(frame(PieceResponse.encode(header)));
        stream.send(piece);
        await readFrame(bytes, 1024);
        await stream.close();
      })().catch(() => stream.abort(new Error('test parent gave up')));
    });
  });

  after(async () => {
    await child.stop();
    await parent.stop();
  });

  it('asks again on a new stream when a kept one ends before its answer', async () => {
    const streams = new PieceStreams(child);
    (await pieceRequest(parent, streams, 0)).release();
    assert.equal(streams.idleCount(parent.peerId.toString()), 1);
    const piece = await pieceRequest(parent, streams, 1);
    assert.ok(
      Buffer.concat(piece.chunks).equals(blob.subarray(pieceStart(layout, 1), pieceStart(layout, 2))),
    );
    piece.release();
    assert.equal(streamsOpened, 2);
    streams.close();
  });

  it('opens a stream per piece to a parent that speaks only the one-request protocol', async () => {
    const oneRequestParent = await startBlobParent(pattern);
    try {
      await oneRequestParent.node.unhandle(PIECE_PROTOCOL_SEQUENTIAL);
      const streams = new PieceStreams(child);
      for (let index = 0; index < layout.count; index++) {
        const piece = await pieceRequest(oneRequestParent.node, streams, index);
        assert.equal(piece.length, pieceLength(layout, index));
        piece.release();
        assert.equal(streams.idleCount(oneRequestParent.node.peerId.toString()), 0);
      }
    } finally {
      await oneRequestParent.stop();
    }
  });
});

describe('a parent that sends slowly, or stops', () => {
  let parent: ShoalNode;
  let child: ShoalNode;
  /** how the parent sends piece 0: parts of this many bytes, this many ms apart, stopping after `parts` of them */
  let pace = { bytes: 0, everyMs: 0, parts: 0 };

  before(async () => {
    parent = await newNode();
    child = await newNode();
    await parent.handle(PIECE_PROTOCOL_SEQUENTIAL, (stream: Stream) => {
      void (async () => {
        const bytes = byteStream(stream);
        await readFrame(bytes, 1024);
        const piece = blob.subarray(0, pieceLength(layout, 0));
        const header = { status: PieceStatus.ok, length: piece.length, sha256: sha256(piece), message: '' };
        stream.send(frame(PieceResponse.encode({ ...header, blobSize: blob.length })));
        for (let part = 0, at = 0; part < pace.parts && at < piece.length; part++, at += pace.bytes) {
          await new Promise((resolve) => setTimeout(resolve, pace.everyMs));
          stream.send(piece.subarray(at, at + pace.bytes));
        }
        await readFrame(bytes, 1024);
      })().catch(() => stream.abort(new Error('test parent gave up')));
    });
  });

  after(async () => {
    await child.stop();
    await parent.stop();
  });

  const fetchFirst = (streams: PieceStreams, limiter = new RateLimiter(0)) =>
    fetchPiece(streams, {
      parent: parent.peerId.toString(),
      parentAddrs: parent.getMultiaddrs().map((ma) => ma.toString()),
      digest,
      index: 0,
      pieceSize: layout.pieceSize,
      expectedLength: pieceLength(layout, 0),
      expectedSha256: sha256(blob.subarray(0, pieceLength(layout, 0))),
      timeoutMs: 60_000,
      idleTimeoutMs: 400,
      limiter,
    });

  it('is not left while it waits for its own node download rate longer than the idle timeout', async () => {
    pace = { bytes: layout.pieceSize, everyMs: 0, parts: 1 };
    const limiter = new RateLimiter(2 * MIB);
    // Another fetch's bytes, paid first: this one's first wait is ~0.9 s, over twice the idle timeout.
    const other = limiter.take(2 * MIB);
    const streams = new PieceStreams(child);
    const started = Date.now();
    const piece = await fetchFirst(streams, limiter);
    await other;
    assert.ok(Date.now() - started > 800, 'it waited for the rate');
    assert.equal(piece.length, pieceLength(layout, 0));
    piece.release();
    streams.close();
  });

  it('is waited for past the idle timeout while its bytes keep coming', async () => {
    pace = { bytes: layout.pieceSize / 16, everyMs: 100, parts: 16 };
    const streams = new PieceStreams(child);
    const started = Date.now();
    const piece = await fetchFirst(streams);
    assert.ok(Date.now() - started > 1_000, 'the piece took longer than the idle timeout');
    assert.equal(piece.length, pieceLength(layout, 0));
    piece.release();
    streams.close();
  });

  it('is left once it sends nothing for the idle timeout, long before the piece deadline', async () => {
    pace = { bytes: layout.pieceSize / 16, everyMs: 100, parts: 4 };
    const streams = new PieceStreams(child);
    const started = Date.now();
    await assert.rejects(fetchFirst(streams), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'UNAVAILABLE');
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 800 && took < 5_000, `left after ${took} ms`);
    streams.close();
  });
});
