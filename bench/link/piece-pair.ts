/**
 * The piece link without scheduler, HTTP or daemon around it: two processes,
 * the real libp2p node, piece server, piece fetcher and blob task.
 *
 *   node bench/link/piece-pair.ts serve BLOB_FILE DIGEST STORE_DIR
 *       puts BLOB_FILE into a blob store at STORE_DIR (hard link), serves its pieces
 *       and prints {"addr"} on stdout; runs until killed
 *   node bench/link/piece-pair.ts fetch ADDR DIGEST SIZE STORE_DIR [CONCURRENCY]
 *       fetches every piece from ADDR, CONCURRENCY at a time (default 8, as a peer's
 *       download slots), writes them into a blob task that verifies the whole digest,
 *       and prints {"seconds", "cpuSeconds"} once the blob is committed
 */

import { link, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { type Digest, digestHex } from '@shoal/oci';
import { createShoalNode } from '@shoal/p2p';
import { MAX_PIECE_SIZE, pieceLength, pieceStart } from '@shoal/protocol';
import { createLogger, tunePeerRuntime } from '@shoal/telemetry';

import { nodeSendBudget } from '../../peer/src/memory/send-budget.ts';
import { fetchPiece } from '../../peer/src/p2p/piece-fetcher.ts';
import { startPieceServer } from '../../peer/src/p2p/piece-server.ts';
import { PieceStreams } from '../../peer/src/p2p/piece-streams.ts';
import { RateLimiter } from '../../peer/src/p2p/rate-limiter.ts';
import { BlobStore } from '../../peer/src/store/blob-store.ts';
import { StorePaths } from '../../peer/src/store/paths.ts';
import { BlobTask } from '../../peer/src/task/blob-task.ts';

const logger = createLogger({ level: 'warn' });

async function openStore(dir: string): Promise<BlobStore> {
  const store = new BlobStore({ paths: new StorePaths(dir), capacity: 64 * 2 ** 30, logger });
  await store.init();
  return store;
}

async function newNode() {
  return createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
}

async function serve(blobFile: string, digest: Digest, storeDir: string): Promise<void> {
  const paths = new StorePaths(storeDir);
  await mkdir(paths.blobsDir, { recursive: true });
  await link(blobFile, join(paths.blobsDir, digestHex(digest)));
  const store = await openStore(storeDir);
  const node = await newNode();
  await startPieceServer({
    node,
    store,
    uploadSlots: 8,
    limiter: new RateLimiter(0),
    budget: nodeSendBudget(),
    maxPieceSize: MAX_PIECE_SIZE,
    logger,
  });
  process.stdout.write(`${JSON.stringify({ addr: node.getMultiaddrs()[0]!.toString() })}\n`);
  // Exit normally when told to stop, so that --cpu-prof writes its profile.
  process.once('SIGINT', () => process.exit(0));
}

async function fetch(addr: string, digest: Digest, size: number, storeDir: string, concurrency: number) {
  const store = await openStore(storeDir);
  const node = await newNode();
  const streams = new PieceStreams(node);
  const parent = addr.slice(addr.lastIndexOf('/p2p/') + '/p2p/'.length);
  const task = new BlobTask(digest, store);
  await task.create(size);
  const layout = task.layout!;
  const limiter = new RateLimiter(0);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < layout.count; index = next++) {
      const piece = await fetchPiece(streams, {
        parent,
        parentAddrs: [addr],
        digest,
        index,
        pieceSize: layout.pieceSize,
        expectedLength: pieceLength(layout, index),
        expectedSha256: new Uint8Array(0),
        timeoutMs: 60_000,
        limiter,
      });
      try {
        await task.writeChunks(pieceStart(layout, index), piece.chunks);
      } finally {
        piece.release();
      }
      await task.landPiece(index, piece.sha256Hex, parent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await task.finished;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(
    `${JSON.stringify({ seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
  );
  await node.stop();
}

// As the peer daemon does.
tunePeerRuntime();
const [role, ...rest] = process.argv.slice(2);
if (role === 'serve' && rest.length === 3) {
  await serve(rest[0]!, rest[1] as Digest, rest[2]!);
} else if (role === 'fetch' && rest.length >= 4) {
  await fetch(rest[0]!, rest[1] as Digest, Number(rest[2]), rest[3]!, Number(rest[4] ?? 8));
  process.exit(0);
} else {
  throw new Error(
    'usage: piece-pair.ts serve BLOB_FILE DIGEST STORE_DIR | fetch ADDR DIGEST SIZE STORE_DIR [CONCURRENCY]',
  );
}
