import { createHash } from 'node:crypto';
import { peerIdFromString } from '@libp2p/peer-id';
import { byteStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { frame, readFrame, type ShoalNode, sendWithBackpressure } from '@shoal/p2p';
import { MAX_PIECE_SIZE, PIECE_PROTOCOL, PieceRequest, PieceResponse, PieceStatus } from '@shoal/protocol';
import type { RateLimiter } from './rate-limiter.ts';

export class PieceFetchError extends Error {
  readonly code: 'UNAVAILABLE' | 'MISMATCH';
  constructor(code: 'UNAVAILABLE' | 'MISMATCH', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PieceFetchError';
    this.code = code;
  }
}

export interface FetchedPiece {
  chunks: Uint8Array[];
  length: number;
  /** size of the whole blob, as the parent knows it */
  blobSize: number;
  sha256Hex: string;
  millis: number;
}

const READ_CHUNK = 1024 * 1024;

/**
 * Fetches one piece from a parent over /shoal/piece/1.0.0 and checks it
 * against the piece table entry. Memory per fetch is bounded by the piece size.
 */
export async function fetchPiece(
  node: ShoalNode,
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
    timeoutMs: number;
    limiter: RateLimiter;
    onBytes?: (bytes: number) => void;
  },
): Promise<FetchedPiece> {
  const started = performance.now();
  const signal = AbortSignal.timeout(request.timeoutMs);
  const peerId = peerIdFromString(request.parent);
  let stream: Awaited<ReturnType<ShoalNode['dialProtocol']>>;
  try {
    // Updating the peer store costs a write per piece; a connected parent needs no addresses.
    if (request.parentAddrs.length > 0 && node.getConnections(peerId).length === 0) {
      await node.peerStore.merge(peerId, { multiaddrs: request.parentAddrs.map((a) => multiaddr(a)) });
    }
    stream = await node.dialProtocol(peerId, PIECE_PROTOCOL, { signal });
  } catch (error) {
    throw new PieceFetchError(
      'UNAVAILABLE',
      `cannot reach parent ${request.parent}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  try {
    const bytes = byteStream(stream, {
      maxBufferSize: (request.expectedLength ?? MAX_PIECE_SIZE) + 64 * 1024,
    });
    await sendWithBackpressure(
      stream,
      frame(
        PieceRequest.encode({ digest: request.digest, index: request.index, pieceSize: request.pieceSize }),
      ),
    );
    const header = PieceResponse.decode(await readFrame(bytes, 4096, { signal }));
    if (header.status !== PieceStatus.ok) {
      throw new PieceFetchError('UNAVAILABLE', `parent answered status ${header.status}: ${header.message}`);
    }
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
    const chunks: Uint8Array[] = [];
    for (let received = 0; received < header.length; ) {
      const want = Math.min(READ_CHUNK, header.length - received);
      await request.limiter.take(want, signal);
      const list = await bytes.read({ bytes: want, signal });
      for (const chunk of list) {
        hash.update(chunk);
        chunks.push(chunk);
      }
      received += want;
      request.onBytes?.(want);
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
    await stream.close().catch(() => {});
    return {
      chunks,
      length: header.length,
      blobSize: Number(header.blobSize),
      sha256Hex,
      millis: Math.max(1, Math.round(performance.now() - started)),
    };
  } catch (error) {
    stream.abort(error as Error);
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
