import { pieceAt } from '@shoal/protocol';
import type { BlobTask } from './blob-task.ts';
import { downloadFromOrigin, type OriginDownloadOptions, type OriginSource } from './origin-download.ts';

export type FetchFirstOptions = Pick<OriginDownloadOptions, 'onBytes' | 'pace' | 'onPiece'>;

/**
 * Fetches the pieces covering bytes [start, end) that are neither present nor
 * fetched first already, from the origin, ahead of the task's own order: a
 * client reading a range of a blob still downloading gets it without waiting
 * behind the whole download. Each run of adjacent missing pieces is one ranged
 * request; its pieces are written, hashed and landed like any origin piece, and
 * its bytes are readable as they are written.
 */
export async function fetchFirst(
  task: BlobTask,
  source: OriginSource,
  start: number,
  end: number,
  options: FetchFirstOptions = {},
): Promise<void> {
  const layout = task.layout;
  if (!layout || task.state !== 'downloading' || end <= start) return;
  const missing: number[] = [];
  for (let index = pieceAt(layout, start); index <= pieceAt(layout, end - 1); index++) {
    if (!task.has(index)) missing.push(index);
  }
  const claimed = task.firstFetches.claim(missing);
  try {
    for (const range of adjacentRuns(claimed)) {
      if (task.state !== 'downloading') return;
      await downloadFromOrigin(task, source, { ...options, range, ahead: true, maxAttempts: 2 });
    }
  } finally {
    task.firstFetches.release(claimed);
  }
}

/** Sorted piece indices grouped into runs of adjacent pieces. Pure. */
export function adjacentRuns(indices: readonly number[]): { first: number; count: number }[] {
  const runs: { first: number; count: number }[] = [];
  for (const index of indices) {
    const last = runs.at(-1);
    if (last && last.first + last.count === index) last.count++;
    else runs.push({ first: index, count: 1 });
  }
  return runs;
}
