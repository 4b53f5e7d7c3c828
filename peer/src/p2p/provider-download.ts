import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { blobCid, type ShoalNode } from '@shoal/p2p';
import { pieceLength, pieceSizeFor, pieceStart, pieceTimeoutMs } from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import type { Provider } from '../download/ports.ts';
import type { PeerMetrics } from '../metrics.ts';
import { SerialQueue } from '../serial-queue.ts';
import type { BlobTask } from '../task/blob-task.ts';
import { downloadFromOrigin, type OriginSource } from '../task/origin-download.ts';
import { type FetchedPiece, fetchPiece, PieceFetchError } from './piece-fetcher.ts';
import type { PieceStreams } from './piece-streams.ts';
import type { RateLimiter } from './rate-limiter.ts';

export type { Provider } from '../download/ports.ts';

export interface ProviderDownloadOptions {
  node: ShoalNode;
  pieceStreams: PieceStreams;
  metrics: PeerMetrics;
  logger: Logger;
  limiter: RateLimiter;
  concurrency: number;
  pieceTimeoutMs: number;
}

const LOOKUP_TIMEOUT_MS = 3_000;
const MAX_PROVIDERS = 16;

/**
 * Peers that announced the blob in the DHT (holding it whole or downloading
 * it), this node excluded. Bounded in time whatever the DHT does: a lookup can
 * otherwise sit on dials to dead nodes.
 */
export async function findProviders(
  node: ShoalNode,
  digest: string,
  metrics: PeerMetrics,
): Promise<Provider[]> {
  const dht = node.services.dht;
  if (!dht) return [];
  const self = node.peerId.toString();
  const found = new Map<string, Provider>();
  const abort = new AbortController();
  const lookup = (async () => {
    for await (const event of dht.findProviders(blobCid(digest), { signal: abort.signal })) {
      if (event.name !== 'PROVIDER') continue;
      for (const info of event.providers) {
        const id = info.id.toString();
        if (id !== self) found.set(id, { id, addrs: info.multiaddrs.map((ma) => ma.toString()) });
      }
      if (found.size >= MAX_PROVIDERS) return;
    }
  })();
  const finished = await Promise.race([
    lookup.then(
      () => true,
      () => false,
    ),
    sleep(LOOKUP_TIMEOUT_MS).then(() => false),
  ]);
  abort.abort();
  lookup.catch(() => {});
  metrics.dhtOperations.inc({
    operation: 'find_providers',
    result: finished || found.size > 0 ? 'ok' : 'error',
  });
  return [...found.values()];
}

/**
 * Among peers known from the swarm (not announced for this blob), those that
 * hold it: each is asked for piece 0. For the outage path only, when neither
 * the scheduler nor the DHT names anyone.
 */
export async function probeHolders(
  candidates: Provider[],
  digest: string,
  options: ProviderDownloadOptions,
): Promise<Provider[]> {
  const answers = await Promise.all(
    candidates.map(async (candidate) => {
      try {
        await fetchPiece(options.pieceStreams, {
          parent: candidate.id,
          parentAddrs: candidate.addrs,
          digest,
          index: 0,
          pieceSize: 0,
          expectedLength: undefined,
          expectedSha256: new Uint8Array(0),
          timeoutMs: Math.min(options.pieceTimeoutMs, 5_000),
          limiter: options.limiter,
        });
        return candidate;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((a): a is Provider => a !== undefined);
}

/**
 * How long a piece owned by another member may take to appear before this node
 * fetches it from the origin too. Owners fetch their share one piece at a time
 * from an origin all of them share, so this covers an owner's whole queue; an
 * owner that is gone is noticed at once (it cannot be dialled) and loses its share.
 */
const OWNER_GRACE_MS = 30_000;
/** How long a piece may find no source at all (no peer has it, the origin does not answer) before the task fails. */
const GIVE_UP_MS = 60_000;
/** After the origin failed, how long before it is tried again for another piece. */
const ORIGIN_RETRY_MS = 5_000;
const RETRY_DELAY_MS = 200;

/**
 * Completes a task without a scheduler. The peers known to want or hold the
 * blob (DHT providers, parents the scheduler had named) split its pieces
 * among themselves by rendezvous hashing over the members still reachable:
 * one worker fetches this node's own share, in order, from the origin (after
 * asking the peers once: a provider may hold the whole blob), while the others
 * take the rest from the peers, owner first, so a piece leaves the origin about
 * once. A piece whose owner is gone is re-owned by the survivors; one whose
 * owner does not deliver within a grace period is fetched from the origin too.
 * With the origin unreachable, peers are asked until a piece has found no
 * source for a while. There is no piece table here: the whole-blob digest is
 * the check.
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
    if (first) {
      await task.create(first.piece.blobSize, pieceSizeFor(first.piece.blobSize));
      if (first.piece.length === pieceLength(task.layout!, 0)) await land(task, 0, first.piece, first.from);
    } else {
      // Nobody has a piece yet (a rollout that lost its scheduler before this node learnt
      // the size): the origin tells the size, and the pieces are shared all the same.
      const size = await origin.probeSize(task.abort.signal).catch(() => 0);
      if (size <= 0) {
        await downloadFromOrigin(task, origin, originOptions(options));
        return;
      }
      await task.create(size, pieceSizeFor(size));
    }
  }
  const layout = task.layout!;
  const self = options.node.peerId.toString();
  const byId = new Map(providers.map((p) => [p.id, p]));
  /** Members not yet found unreachable; ownership is computed over them. */
  const alive = new Set([self, ...byId.keys()]);
  const ownerNow = (index: number) => ownerOf(task.digest, index, [...alive]);
  const fromOrigin = serialOrigin(task, origin, options);
  const downloading = () => task.state === 'downloading';
  const missing = [...Array(layout.count).keys()].filter((index) => !task.has(index));
  const tally = { missing: missing.length, own: 0, fromPeers: 0, fromOrigin: 0 };

  /** One pass over the reachable peers, the owner first; whether the piece landed. */
  const fromPeers = async (index: number, owner: string): Promise<boolean> => {
    const live = providers.filter((p) => alive.has(p.id));
    const order = owner === self ? live : [byId.get(owner)!, ...live.filter((p) => p.id !== owner)];
    for (const provider of order) {
      if (!alive.has(provider.id)) continue;
      const result = await tryFetch(task, provider, index, pieceLength(layout, index), options);
      if (result === 'unreachable') {
        alive.delete(provider.id);
        continue;
      }
      if (!result || task.has(index) || !downloading()) continue;
      await land(task, index, result, provider.id);
      options.metrics.pieces.inc({ result: 'ok' });
      tally.fromPeers++;
      return true;
    }
    return false;
  };

  const obtain = async (index: number): Promise<void> => {
    const wanted = Date.now();
    while (!task.has(index) && downloading()) {
      const owner = ownerNow(index);
      if (await fromPeers(index, owner)) return;
      const waited = Date.now() - wanted;
      if ((ownerNow(index) === self || waited > OWNER_GRACE_MS) && (await fromOrigin.fetch(index))) {
        tally.fromOrigin++;
        return;
      }
      if (waited > GIVE_UP_MS) throw fromOrigin.lastError ?? new PieceUnavailableError(task.digest, index);
      await sleep(RETRY_DELAY_MS);
    }
  };

  // This node's share, on its own worker (its origin requests are serial anyway), from
  // the end backwards: origin ranges a scheduler handed out before it went away are the
  // lowest pieces nobody held, still landing at their assignees; from the back, the
  // owner asks the peers for them last, when they are there.
  const ownShare = async () => {
    for (const index of missing.toReversed()) {
      if (!downloading()) return;
      if (!task.has(index) && ownerNow(index) === self) {
        tally.own++;
        await obtain(index);
      }
    }
  };
  // The rest in order (a client streaming the blob gets its bytes early); a piece
  // that became this node's own when its owner vanished is fetched here as well.
  let cursor = 0;
  const others = async () => {
    while (cursor < missing.length && downloading()) {
      const index = missing[cursor++]!;
      if (!task.has(index) && ownerNow(index) !== self) await obtain(index);
    }
  };
  const peerWorkers = Math.max(1, options.concurrency - 1);
  await Promise.all([ownShare(), ...Array.from({ length: peerWorkers }, others)]);
  // Pieces whose ownership moved after both loops passed them (an owner vanished late).
  for (const index of missing) {
    if (!downloading()) break;
    if (!task.has(index)) await obtain(index);
  }
  options.logger.info(
    { digest: task.digest, ...tally, members: byId.size + 1, unreachable: byId.size + 1 - alive.size },
    'pieces shared without a scheduler',
  );
}

/** No peer had a piece and the origin did not supply it either. */
export class PieceUnavailableError extends Error {
  readonly code = 'PIECE_UNAVAILABLE';
  constructor(digest: string, index: number) {
    super(`piece ${index} of ${digest} is on no reachable peer and the origin did not supply it`);
    this.name = 'PieceUnavailableError';
  }
}

/**
 * Single pieces from the origin, one request at a time (the origin sees one
 * stream per node, as with a whole-blob download); after a failure the origin
 * is left alone for a while. `fetch` resolves to whether the piece landed.
 */
function serialOrigin(task: BlobTask, origin: OriginSource, options: ProviderDownloadOptions) {
  const turns = new SerialQueue();
  let failedAt = Number.NEGATIVE_INFINITY;
  const state = {
    lastError: undefined as Error | undefined,
    fetch(index: number): Promise<boolean> {
      return turns.run(async () => {
        if (task.has(index)) return true;
        if (Date.now() - failedAt < ORIGIN_RETRY_MS) return false;
        try {
          await downloadFromOrigin(task, origin, {
            ...originOptions(options),
            range: { first: index, count: 1 },
            onPiece: () => options.metrics.pieces.inc({ result: 'origin' }),
          });
          return task.has(index);
        } catch (error) {
          failedAt = Date.now();
          state.lastError = error as Error;
          options.logger.debug(
            { digest: task.digest, index, err: (error as Error).message },
            'origin piece failed',
          );
          return false;
        }
      });
    },
  };
  return state;
}

/** Rendezvous hashing of a piece over the members: the one with the highest weight owns it. Pure. */
export function ownerOf(digest: string, index: number, members: readonly string[]): string {
  let best = members[0]!;
  let bestWeight = -1n;
  for (const member of members) {
    const weight = createHash('sha256').update(`${member}\0${digest}\0${index}`).digest().readBigUInt64BE(0);
    if (weight > bestWeight) {
      bestWeight = weight;
      best = member;
    }
  }
  return best;
}

/** Piece 0 from the first provider that has it; its header tells the blob's size. */
async function firstPiece(task: BlobTask, providers: Provider[], options: ProviderDownloadOptions) {
  for (const provider of providers) {
    const piece = await tryFetch(task, provider, 0, undefined, options);
    if (piece && piece !== 'unreachable' && piece.blobSize > 0) return { piece, from: provider.id };
  }
  return undefined;
}

async function land(task: BlobTask, index: number, piece: FetchedPiece, from: string): Promise<void> {
  try {
    await task.writeChunks(pieceStart(task.layout!, index), piece.chunks);
  } finally {
    piece.release();
  }
  await task.landPiece(index, piece.sha256Hex, from);
}

async function tryFetch(
  task: BlobTask,
  provider: Provider,
  index: number,
  expectedLength: number | undefined,
  options: ProviderDownloadOptions,
): Promise<FetchedPiece | 'unreachable' | undefined> {
  try {
    return await fetchPiece(options.pieceStreams, {
      parent: provider.id,
      parentAddrs: provider.addrs,
      digest: task.digest,
      index,
      pieceSize: task.layout?.pieceSize ?? 0,
      expectedLength,
      expectedSha256: new Uint8Array(0),
      timeoutMs: pieceTimeoutMs(task.layout?.pieceSize ?? 0, options.pieceTimeoutMs),
      limiter: options.limiter,
      onBytes: (bytes) => options.metrics.downloadedBytes.inc({ source: 'peer' }, bytes),
    });
  } catch (error) {
    options.logger.debug(
      { provider: provider.id, index, err: (error as Error).message },
      'provider fetch failed',
    );
    return error instanceof PieceFetchError && error.unreachable ? 'unreachable' : undefined;
  }
}

function originOptions(options: ProviderDownloadOptions) {
  return {
    onBytes: (bytes: number) => options.metrics.downloadedBytes.inc({ source: 'origin' }, bytes),
    pace: (bytes: number) => options.limiter.take(bytes),
  };
}
