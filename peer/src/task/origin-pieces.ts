import type { OriginPieces } from '../download/ports.ts';
import type { BlobTask } from './blob-task.ts';
import { downloadFromOrigin, type OriginDownloadOptions, type OriginSource } from './origin-download.ts';

/** One task's pieces filled from the origin registry over HTTP, paced and counted as `options` says. */
export function originPieces(
  task: BlobTask,
  origin: OriginSource,
  options: Pick<OriginDownloadOptions, 'onBytes' | 'pace'>,
): OriginPieces {
  return {
    probeSize: (signal) => origin.probeSize(signal),
    knownSize: () => origin.knownSize?.(),
    fill: (range, onPiece) =>
      downloadFromOrigin(task, origin, {
        ...options,
        ...(range ? { range } : {}),
        ...(onPiece ? { onPiece } : {}),
      }),
  };
}
