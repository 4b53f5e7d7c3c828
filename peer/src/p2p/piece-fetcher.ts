import { createHash } from 'node:crypto';
import { frame, readFrame, sendWithBackpressure } from '@shoal/p2p';
import {
  MAX_PIECE_SIZE,
  PIECE_IDLE_TIMEOUT_MS,
  PieceRequest,
  PieceResponse,
  PieceStatus,
} from '@shoal/protocol';
import { type FetchedPiece, PieceFetchError } from '../download/ports.ts';
import { BufferPool } from './buffer-pool.ts';
import type { PieceStream, PieceStreams } from './piece-streams.ts';
import type { RateLimiter } from './rate-limiter.ts';

export { type FetchedPiece, PieceFetchError } from '../download/ports.ts';

const READ_CHUNK = 1024 * 1024;

/**
 * Received bytes are copied into these as they arrive: the network's own
 * buffers then die young (cheap to collect), and a piece held until it is
 * verified and written occupies reused memory instead of garbage.
 */
const pool = new BufferPool(READ_CHUNK, { maxIdle: 64 });

/**
 * Fetches one piece from a parent over the piece protocol, on a stream kept
 * from an earlier piece when there is one, and checks it against the piece
 * table entry. Memory per fetch is bounded by the piece size.
 */
export async function fetchPiece(
  streams: PieceStreams,
  request: {
    parent: string;
    parentAddrs: string[];
    digest: string;
    index: number;
    /** the requester's piece size; 0 when it has no layout yet */
    pieceSize: number;
    /** undefined when the layout is not known yet (a first contact without a scheduler) */
    expectedLength: number | undefined;
    expectedSha256: Uint8Array;
    /** the whole piece's deadline */
    timeoutMs: number;
    /** a piece the parent is still fetching: it answers once the piece has landed, or after this long */
    waitMs?: number;
    /** no byte for this long fails the fetch before its deadline (default PIECE_IDLE_TIMEOUT_MS) */
    idleTimeoutMs?: number;
    limiter: RateLimiter;
    onBytes?: (bytes: number) => void;
    /** ends the fetch early (the piece came from elsewhere) */
    signal?: AbortSignal;
  },
): Promise<FetchedPiece> {
  const idle = parentSilence(request.idleTimeoutMs ?? PIECE_IDLE_TIMEOUT_MS);
  const signals = [AbortSignal.timeout(request.timeoutMs), idle.signal];
  if (request.signal) signals.push(request.signal);
  try {
    return await fetchWithin(streams, request, AbortSignal.any(signals), idle);
  } finally {
    idle.stop();
  }
}

/** Watches a parent for silence: `signal` aborts once it sent nothing for `ms`. */
interface ParentSilence {
  signal: AbortSignal;
  /** Bytes came from the parent: the wait starts again. */
  progressed(): void;
  /** Runs `work`, a wait of this node's own (its download rate), which is not the parent's silence. */
  ownWait<T>(work: Promise<T>): Promise<T>;
  stop(): void;
}

function parentSilence(ms: number): ParentSilence {
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new Error(`no byte from the parent for ${ms} ms`)), ms);
  };
  arm();
  return {
    signal: idle.signal,
    progressed: arm,
    async ownWait(work) {
      clearTimeout(timer);
      try {
        return await work;
      } finally {
        arm();
      }
    },
    stop: () => clearTimeout(timer),
  };
}

async function fetchWithin(
  streams: PieceStreams,
  request: Parameters<typeof fetchPiece>[1],
  signal: AbortSignal,
  idle: ParentSilence,
): Promise<FetchedPiece> {
  let started = performance.now();
  for (let attempt = 0; ; attempt++) {
    let piece: PieceStream;
    try {
      piece = await streams.open(request.parent, request.parentAddrs, {
        signal,
        fresh: attempt > 0,
        // A stream for a task's pieces takes its full pieces (and the shorter last one) alike.
        maxAnswerBytes: Math.max(request.pieceSize, request.expectedLength ?? MAX_PIECE_SIZE),
      });
    } catch (error) {
      throw new PieceFetchError(
        'UNAVAILABLE',
        `cannot reach parent ${request.parent}: ${(error as Error).message}`,
        { cause: error, unreachable: true },
      );
    }
    let header: PieceResponse;
    try {
      const waitMs = request.waitMs ?? 0;
      await sendWithBackpressure(
        piece.stream,
        frame(
          PieceRequest.encode({
            digest: request.digest,
            index: request.index,
            pieceSize: request.pieceSize,
            waitMs,
          }),
        ),
      );
      const answer = readFrame(piece.bytes, 4096, { signal });
      // A parent waiting for a pending piece is silent on purpose; the piece's deadline still holds.
      header = PieceResponse.decode(await (waitMs > 0 ? idle.ownWait(answer) : answer));
      // The parent's wait is not its speed: a pending piece is timed from the answer.
      if (waitMs > 0) started = performance.now();
    } catch (error) {
      streams.discard(piece, error as Error);
      // A stream kept from an earlier piece may have been let go by the parent meanwhile: once more on a new one.
      if (piece.reused && !signal.aborted) continue;
      throw new PieceFetchError(
        'UNAVAILABLE',
        `piece ${request.index} from ${request.parent} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (header.status !== PieceStatus.ok) {
      streams.finished(piece);
      throw new PieceFetchError(
        header.status === PieceStatus.notFound ? 'ABSENT' : 'UNAVAILABLE',
        `parent answered status ${header.status}: ${header.message}`,
      );
    }
    idle.progressed();
    return receivePiece(streams, piece, header, request, signal, started, idle);
  }
}

/** Reads the answer's bytes into pooled buffers, hashing them as they arrive, and checks them. */
async function receivePiece(
  streams: PieceStreams,
  piece: PieceStream,
  header: PieceResponse,
  request: Parameters<typeof fetchPiece>[1],
  signal: AbortSignal,
  started: number,
  idle: ParentSilence,
): Promise<FetchedPiece> {
  const buffers: Buffer[] = [];
  const chunks: Uint8Array[] = [];
  const release = () => {
    for (const buffer of buffers.splice(0)) pool.give(buffer);
    chunks.length = 0;
  };
  try {
    // Without a layout yet (first contact, no scheduler) any piece up to the maximum size is plausible.
    const lengthOk =
      request.expectedLength === undefined
        ? header.length <= MAX_PIECE_SIZE
        : header.length === request.expectedLength;
    if (!lengthOk) {
      throw new PieceFetchError(
        'MISMATCH',
        `parent sent ${header.length} bytes for a piece of ${request.expectedLength ?? 'unknown length'}`,
      );
    }
    const hash = createHash('sha256');
    let buffer: Buffer | undefined;
    let filled = 0;
    for (let received = 0; received < header.length; ) {
      // Whatever has arrived, copied out at once: the network's buffers are garbage a moment later.
      const list = await piece.bytes.read({ signal });
      if (list === null) throw new Error(`stream ended after ${received} of ${header.length} bytes`);
      if (received + list.byteLength > header.length) {
        throw new PieceFetchError('MISMATCH', `parent sent more than the ${header.length} bytes announced`);
      }
      for (const part of list) {
        for (let taken = 0; taken < part.length; ) {
          buffer ??= pool.take();
          const n = Math.min(part.length - taken, buffer.length - filled);
          buffer.set(taken === 0 && n === part.length ? part : part.subarray(taken, taken + n), filled);
          filled += n;
          taken += n;
          if (filled === buffer.length || received + taken === header.length) {
            const chunk = buffer.subarray(0, filled);
            hash.update(chunk);
            chunks.push(chunk);
            buffers.push(buffer);
            buffer = undefined;
            filled = 0;
          }
        }
        received += part.length;
      }
      idle.progressed();
      request.onBytes?.(list.byteLength);
      // Paced after the fact: the bytes are here already, the next ones wait their turn. On a slow
      // link that wait (behind this node's other fetches) can outlast the idle timeout.
      await idle.ownWait(request.limiter.take(list.byteLength, signal));
    }
    const sha256Hex = hash.digest('hex');
    if (
      request.expectedSha256.length > 0 &&
      Buffer.from(request.expectedSha256).toString('hex') !== sha256Hex
    ) {
      throw new PieceFetchError(
        'MISMATCH',
        `piece ${request.index} from ${request.parent} does not match the piece table`,
      );
    }
    streams.finished(piece);
    return {
      chunks,
      release,
      length: header.length,
      blobSize: Number(header.blobSize),
      sha256Hex,
      millis: Math.max(1, Math.round(performance.now() - started)),
    };
  } catch (error) {
    release();
    streams.discard(piece, error as Error);
    if (error instanceof PieceFetchError) throw error;
    throw new PieceFetchError(
      'UNAVAILABLE',
      `piece ${request.index} from ${request.parent} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
