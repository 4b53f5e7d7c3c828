/** Test helpers shared by the piece-server tests: a node serving one blob, and verified piece requests. */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { type Digest, digestHex } from '@shoal/oci';
import { createShoalNode, type ShoalNode } from '@shoal/p2p';
import { MAX_PIECE_SIZE, type PieceLayout, pieceLength, pieceStart } from '@shoal/protocol';
import { createLogger } from '@shoal/telemetry';
import { nodeSendBudget, type SendBudget } from '../src/memory/send-budget.ts';
import { fetchPiece } from '../src/p2p/piece-fetcher.ts';
import { startPieceServer } from '../src/p2p/piece-server.ts';
import type { PieceStreams } from '../src/p2p/piece-streams.ts';
import { RateLimiter } from '../src/p2p/rate-limiter.ts';
import { type BlobRecord, writeBlobRecord } from '../src/store/blob-record.ts';
import { BlobStore, type BlobStoreOptions } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';

const logger = createLogger({ level: 'silent' });

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

/** A blob of deterministic bytes that differ from piece to piece, with its digest. */
export function patternBlob(size: number): { bytes: Buffer; digest: Digest } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  return { bytes, digest: `sha256:${sha256(bytes).toString('hex')}` as Digest };
}

/** A node holding `blob` in a blob store of its own, serving its pieces; stop() removes the store. */
export async function startBlobParent(
  blob: { bytes: Buffer; digest: Digest },
  options: {
    uploadSlots?: number;
    budget?: SendBudget;
    /** What the store recorded when the blob was stored; none by default. */
    record?: BlobRecord;
    /** The file's bytes, when they are not (any longer) the blob's. */
    onDisk?: Buffer;
    onCorrupt?: BlobStoreOptions['onCorrupt'];
  } = {},
): Promise<{ node: ShoalNode; store: BlobStore; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-piece-parent-'));
  const paths = new StorePaths(dir);
  await mkdir(paths.blobsDir, { recursive: true });
  await writeFile(join(paths.blobsDir, digestHex(blob.digest)), options.onDisk ?? blob.bytes);
  if (options.record) {
    await mkdir(paths.blobRecordsDir, { recursive: true });
    await writeBlobRecord(paths, blob.digest, options.record);
  }
  const store = new BlobStore({
    paths,
    capacity: 2 ** 30,
    logger,
    ...(options.onCorrupt ? { onCorrupt: options.onCorrupt } : {}),
  });
  await store.init();
  const node = await createShoalNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  await startPieceServer({
    node,
    store,
    uploadSlots: options.uploadSlots ?? 4,
    limiter: new RateLimiter(0),
    budget: options.budget ?? nodeSendBudget(),
    maxPieceSize: MAX_PIECE_SIZE,
    logger,
  });
  return {
    node,
    store,
    async stop() {
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Piece `index` of `blob` from `parent`, checked against its own bytes' hash. */
export function verifiedPiece(
  streams: PieceStreams,
  parent: ShoalNode,
  blob: { bytes: Buffer; digest: Digest },
  layout: PieceLayout,
  index: number,
) {
  const start = pieceStart(layout, index);
  const bytes = blob.bytes.subarray(start, start + pieceLength(layout, index));
  return fetchPiece(streams, {
    parent: parent.peerId.toString(),
    parentAddrs: parent.getMultiaddrs().map((ma) => ma.toString()),
    digest: blob.digest,
    index,
    pieceSize: layout.pieceSize,
    expectedLength: bytes.length,
    expectedSha256: sha256(bytes),
    timeoutMs: 10_000,
    limiter: new RateLimiter(0),
  });
}
