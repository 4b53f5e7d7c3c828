import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpstreamUnavailableError } from '@shoal/oci';
import { pieceAt, pieceLength, pieceStart } from '@shoal/protocol';
import { discardedNetworkBytes } from '../memory/young-gc.ts';
import { BatchedWriter } from './batched-writer.ts';
import type { BlobTask } from './blob-task.ts';
import { OriginStalledError, TaskAbortedError, UnusableAnswerError, UpstreamStatusError } from './errors.ts';
import { FROM_ORIGIN } from './source-tally.ts';

/** A response body from the origin for the blob from byte `start` to its end. */
export interface OriginResponse {
  /** Total size of the blob. */
  size: number;
  /** Offset of the first byte of `body` (0 when upstream ignored the Range). */
  start: number;
  body: AsyncIterable<Uint8Array>;
  /** Releases the connection early. */
  cancel(): void;
}

/** Where a task fetches bytes from the origin registry. Throws UpstreamStatusError for answers to relay. */
export interface OriginSource {
  /** Opens the blob from byte `start` to `end` (inclusive; the blob's end when absent). */
  open(start: number, signal: AbortSignal, end?: number): Promise<OriginResponse>;
  /** The blob's size, checking on the way that upstream lets this client read it. */
  probeSize(signal: AbortSignal): Promise<number>;
  /** The size upstream gave a moment ago, if it did, without asking again. */
  knownSize?(): number | undefined;
}

export interface OriginDownloadOptions {
  /** Only these pieces (a back-to-source assignment); the whole blob when absent. */
  range?: { first: number; count: number };
  /** Attempts after a cut-off body before the task fails (each resumes where the last stopped). */
  maxAttempts?: number;
  retryDelayMs?: number;
  onBytes?: (bytes: number) => void;
  /** Waits before bytes are taken in, to hold a download rate. */
  pace?: (bytes: number) => Promise<void>;
  /** A piece fetched here is written and lands now, with its sha256 (for the scheduler's piece table). */
  onPiece?: (index: number, sha256Hex: string) => void;
  /**
   * Fetched ahead of the task's order for a client's Range: bytes are readable as soon as they
   * are written, and the task's other origin streams wait while this one runs.
   */
  ahead?: boolean;
}

/**
 * Fills a task (or one range of its pieces) from the origin with one
 * sequential ranged stream: pieces already present are only hashed, missing
 * ones written and landed. A stream that breaks is resumed at the exact byte
 * it stopped at.
 */
export async function downloadFromOrigin(
  task: BlobTask,
  source: OriginSource,
  options: OriginDownloadOptions = {},
): Promise<void> {
  const maxAttempts = options.maxAttempts ?? 5;
  const signal = task.abort.signal;
  if (options.range && !task.layout) throw new Error('a piece range needs the blob layout first');
  if (!task.layout) await task.resume();
  // A size upstream gave already lays the blob out now: readers of a range ahead need not wait for the body.
  const known = task.layout ? undefined : source.knownSize?.();
  if (known !== undefined) await task.create(known);
  let position = 0;
  if (task.layout) {
    await task.catchUpHash();
    position = options.range ? pieceStart(task.layout, firstMissing(task, options.range)) : task.hashedBytes;
  }
  let pieceHash = createHash('sha256');
  for (let attempt = 1; ; attempt++) {
    let response: OriginResponse;
    const end = task.layout ? rangeEnd(task, options.range) : undefined;
    if (end !== undefined && position >= end) return;
    // A client's range fetched ahead takes the origin's bandwidth whole: this stream opens after it.
    if (!options.ahead) await task.firstFetches.yieldTo();
    try {
      response = await source.open(position, signal, end === undefined ? undefined : end - 1);
    } catch (error) {
      // An answer like 401 or 404 is final and goes back to the client as it is; an origin the
      // client already retried in vain before any byte came is reported at once too.
      const neverAnswered = attempt === 1 && error instanceof UpstreamUnavailableError;
      const final = error instanceof UpstreamStatusError || error instanceof UnusableAnswerError;
      if (final || neverAnswered || attempt >= maxAttempts || signal.aborted) {
        throw error;
      }
      await sleep(backoff(attempt, options.retryDelayMs), undefined, { signal });
      continue;
    }
    if (!task.layout) await task.create(response.size);
    const layout = task.layout!;
    const stopAt = rangeEnd(task, options.range);
    if (response.size !== layout.size) {
      response.cancel();
      throw new TaskAbortedError(`origin reports size ${response.size} for a blob of ${layout.size} bytes`);
    }
    if (layout.size === 0) {
      response.cancel();
      await task.landPiece(0, pieceHash.digest('hex'), FROM_ORIGIN);
      return;
    }
    let offset = response.start;
    const writer = new BatchedWriter(
      task,
      options.ahead ? (at, length) => task.noteWrittenAhead(at, length) : undefined,
    );
    try {
      for await (const received of response.body) {
        discardedNetworkBytes(received.length);
        let chunk = received;
        if (!options.ahead) await task.firstFetches.yieldTo();
        if (options.pace) await options.pace(chunk.length);
        if (offset + chunk.length <= position) {
          offset += chunk.length;
          continue;
        }
        if (offset < position) chunk = chunk.subarray(position - offset);
        offset = position + chunk.length;
        while (chunk.length > 0 && position < stopAt) {
          const index = pieceAt(layout, position);
          const pieceEnd = pieceStart(layout, index) + pieceLength(layout, index);
          const part = chunk.subarray(0, Math.min(chunk.length, pieceEnd - position));
          if (task.has(index)) {
            task.feedHash(position, part);
          } else {
            await writer.add(position, part);
            pieceHash.update(part);
          }
          options.onBytes?.(part.length);
          position += part.length;
          chunk = chunk.subarray(part.length);
          if (position === pieceEnd) {
            if (!task.has(index)) {
              await writer.flush();
              const hex = pieceHash.digest('hex');
              // Told first: landing the last piece completes the task, and its hash must not miss the last report.
              options.onPiece?.(index, hex);
              await task.landPiece(index, hex, FROM_ORIGIN);
            }
            pieceHash = createHash('sha256');
            if (task.state === 'failed' || task.state === 'complete') {
              response.cancel();
              return;
            }
          }
        }
        if (position >= stopAt) break;
      }
      await writer.flush();
    } catch (error) {
      response.cancel();
      // Bytes taken in before the break go to disk before resuming after them; a write error ends here.
      await writer.flush();
      // A stalled origin is given up at once: its range goes to another peer, or the task fails.
      if (signal.aborted || attempt >= maxAttempts || error instanceof OriginStalledError) throw error;
      await sleep(backoff(attempt, options.retryDelayMs), undefined, { signal });
      continue;
    }
    response.cancel();
    if (position >= stopAt) return;
    if (attempt >= maxAttempts) {
      throw new TaskAbortedError(`origin body ended at ${position} of ${stopAt} bytes`);
    }
  }
}

/** First piece of the range not present yet (or the range's end). */
function firstMissing(task: BlobTask, range: { first: number; count: number }): number {
  let index = range.first;
  while (index < range.first + range.count && task.has(index)) index++;
  return Math.min(index, task.layout!.count - 1);
}

/** Byte offset where this download stops: the range's end, else the blob's. */
function rangeEnd(task: BlobTask, range: { first: number; count: number } | undefined): number {
  const layout = task.layout!;
  if (!range) return layout.size;
  const last = Math.min(range.first + range.count, layout.count) - 1;
  return pieceStart(layout, last) + pieceLength(layout, last);
}

function backoff(attempt: number, base = 500): number {
  return Math.min(10_000, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
}
