import { blobCid, type ShoalNode } from '@shoal/p2p';
import { pieceLength, pieceSizeFor, pieceStart } from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import type { PeerMetrics } from '../metrics.ts';
import type { BlobTask } from '../task/blob-task.ts';
import { downloadFromOrigin, type OriginSource } from '../task/origin-download.ts';
import { type FetchedPiece, fetchPiece } from './piece-fetcher.ts';
import type { RateLimiter } from './rate-limiter.ts';

export interface Provider {
  id: string;
  addrs: string[];
}

export interface ProviderDownloadOptions {
  node: ShoalNode;
  metrics: PeerMetrics;
  logger: Logger;
  limiter: RateLimiter;
  concurrency: number;
  pieceTimeoutMs: number;
}

const LOOKUP_TIMEOUT_MS = 5_000;
const MAX_PROVIDERS = 16;

/** Peers that announced the blob in the DHT (holding it whole or downloading it), this node excluded. */
export async function findProviders(
  node: ShoalNode,
  digest: string,
  metrics: PeerMetrics,
): Promise<Provider[]> {
  const dht = node.services.dht;
  if (!dht) return [];
  const self = node.peerId.toString();
  const found = new Map<string, Provider>();
  try {
    for await (const event of dht.findProviders(blobCid(digest), {
      signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
    })) {
      if (event.name !== 'PROVIDER') continue;
      for (const info of event.providers) {
        const id = info.id.toString();
        if (id !== self) found.set(id, { id, addrs: info.multiaddrs.map((ma) => ma.toString()) });
      }
      if (found.size >= MAX_PROVIDERS) break;
    }
    metrics.dhtOperations.inc({ operation: 'find_providers', result: 'ok' });
  } catch {
    metrics.dhtOperations.inc({ operation: 'find_providers', result: found.size > 0 ? 'ok' : 'error' });
  }
  return [...found.values()];
}

/**
 * Completes a task without a scheduler: missing pieces, in a random order so
 * that peers in the same situation fetch different pieces first, are asked of
 * the DHT providers in turn; a piece none of them has comes from the origin.
 * There is no piece table here: the whole-blob digest is the check.
 */
export async function downloadFromProviders(
  task: BlobTask,
  origin: OriginSource,
  providers: Provider[],
  options: ProviderDownloadOptions,
): Promise<void> {
  if (!task.layout) await task.resume();
  if (!task.layout) {
    const first = await firstPiece(task, providers, options);
    if (!first) {
      await downloadFromOrigin(task, origin, originOptions(options));
      return;
    }
    await task.create(first.blobSize, pieceSizeFor(first.blobSize));
    if (first.length === pieceLength(task.layout!, 0)) await land(task, 0, first);
  }
  const layout = task.layout!;
  const missing = shuffle([...Array(layout.count).keys()].filter((index) => !task.has(index)));
  let cursor = 0;
  let rotation = 0;
  const worker = async () => {
    while (cursor < missing.length && task.state === 'downloading') {
      const index = missing[cursor++]!;
      if (task.has(index)) continue;
      let landed = false;
      for (let attempt = 0; attempt < providers.length && !landed; attempt++) {
        const provider = providers[(rotation++ + attempt) % providers.length]!;
        const piece = await tryFetch(task, provider, index, pieceLength(layout, index), options);
        if (!piece || task.has(index) || task.state !== 'downloading') continue;
        await land(task, index, piece);
        options.metrics.pieces.inc({ result: 'ok' });
        landed = true;
      }
      if (!landed && !task.has(index) && task.state === 'downloading') {
        await downloadFromOrigin(task, origin, {
          ...originOptions(options),
          range: { first: index, count: 1 },
        });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
}

/** Piece 0 from the first provider that has it; its header tells the blob's size. */
async function firstPiece(task: BlobTask, providers: Provider[], options: ProviderDownloadOptions) {
  for (const provider of providers) {
    const piece = await tryFetch(task, provider, 0, undefined, options);
    if (piece && piece.blobSize > 0) return piece;
  }
  return undefined;
}

async function land(task: BlobTask, index: number, piece: FetchedPiece): Promise<void> {
  let offset = pieceStart(task.layout!, index);
  for (const chunk of piece.chunks) {
    await task.write(offset, chunk);
    offset += chunk.length;
  }
  await task.landPiece(index, piece.sha256Hex);
}

async function tryFetch(
  task: BlobTask,
  provider: Provider,
  index: number,
  expectedLength: number | undefined,
  options: ProviderDownloadOptions,
): Promise<FetchedPiece | undefined> {
  try {
    return await fetchPiece(options.node, {
      parent: provider.id,
      parentAddrs: provider.addrs,
      digest: task.digest,
      index,
      expectedLength,
      expectedSha256: new Uint8Array(0),
      timeoutMs: options.pieceTimeoutMs,
      limiter: options.limiter,
      onBytes: (bytes) => options.metrics.downloadedBytes.inc({ source: 'peer' }, bytes),
    });
  } catch (error) {
    options.logger.debug(
      { provider: provider.id, index, err: (error as Error).message },
      'provider fetch failed',
    );
    return undefined;
  }
}

function originOptions(options: ProviderDownloadOptions) {
  return {
    onBytes: (bytes: number) => options.metrics.downloadedBytes.inc({ source: 'origin' }, bytes),
    pace: (bytes: number) => options.limiter.take(bytes),
  };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
