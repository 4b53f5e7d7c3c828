import { OriginStalledError } from './errors.ts';
import type { OriginSource } from './origin-download.ts';

export interface ProgressDeadline {
  /** How long the origin may take to send `minBytes`, counting only time spent waiting for it. */
  windowMs: number;
  minBytes?: number;
}

export const DEFAULT_ORIGIN_STALL_TIMEOUT_MS = 30_000;
/** A transfer this slow is as good as stopped: 64 KiB in the window, 2 KiB/s at 30 s. */
const DEFAULT_MIN_BYTES = 64 * 1024;

/**
 * The origin, with every body cut off (OriginStalledError) when it sends less
 * than `minBytes` within the window: an upstream that sends a byte now and
 * then would otherwise hold the download and its clients indefinitely, as
 * no per-read timeout ever fires. Only time spent waiting for the origin
 * counts, not time the download spends writing or pacing itself.
 */
export function withProgressDeadline(source: OriginSource, deadline: ProgressDeadline): OriginSource {
  const minBytes = deadline.minBytes ?? DEFAULT_MIN_BYTES;
  return {
    probeSize: (signal) => source.probeSize(signal),
    async open(start, signal, end) {
      const stall = new AbortController();
      const response = await source.open(start, AbortSignal.any([signal, stall.signal]), end);
      const stalled = () => stall.abort(new OriginStalledError(minBytes, deadline.windowMs));
      return {
        ...response,
        body: watched(response.body, deadline.windowMs, minBytes, stall.signal, stalled),
      };
    },
  };
}

async function* watched(
  body: AsyncIterable<Uint8Array>,
  windowMs: number,
  minBytes: number,
  stall: AbortSignal,
  stalled: () => void,
): AsyncGenerator<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]();
  let waitedMs = 0;
  let bytes = 0;
  try {
    for (;;) {
      const began = performance.now();
      const timer = setTimeout(stalled, windowMs - waitedMs);
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw stall.aborted ? stall.reason : error;
      } finally {
        clearTimeout(timer);
        waitedMs += performance.now() - began;
      }
      if (next.done) return;
      bytes += next.value.length;
      if (bytes >= minBytes) {
        bytes = 0;
        waitedMs = 0;
      }
      yield next.value;
    }
  } finally {
    await chunks.return?.()?.catch(() => {});
  }
}
