import type { ParentPieces } from '../download/ports.ts';
import type { PeerMetrics } from '../metrics.ts';
import { fetchPiece } from './piece-fetcher.ts';
import type { PieceStreams } from './piece-streams.ts';
import type { RateLimiter } from './rate-limiter.ts';

/** Pieces from parents over the piece protocol, on streams kept between pieces, within the download rate. */
export function streamedParentPieces(
  streams: PieceStreams,
  limiter: RateLimiter,
  metrics: PeerMetrics,
): ParentPieces {
  return {
    fetch: (request) =>
      fetchPiece(streams, {
        ...request,
        limiter,
        onBytes: (bytes) => {
          metrics.downloadedBytes.inc({ source: 'peer' }, bytes);
          request.onBytes?.(bytes);
        },
      }),
  };
}
