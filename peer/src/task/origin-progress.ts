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
  return {
    probeSize: (signal) => source.probeSize(signal),
    ...(source.knownSize ? { knownSize: () => source.knownSize?.() } : {}),
    async open(start, signal, end) {
      const stall = new AbortController();
      const response = await source.open(start, AbortSignal.any([signal, stall.signal]), end);
      return {
        ...response,
        body: withMinimumProgress(response.body, deadline, (error) => stall.abort(error)),
      };
    },
  };
}

/**
 * `body`, throwing OriginStalledError once it sends less than the minimum
 * within the window; `abort` is called with that error first, to stop the
 * transfer under it (a read that never returns is not otherwise ended).
 */
export async function* withMinimumProgress<T extends Uint8Array>(
  body: AsyncIterable<T>,
  deadline: ProgressDeadline,
  abort: (error: Error) => void,
): AsyncGenerator<T> {
  const minBytes = deadline.minBytes ?? DEFAULT_MIN_BYTES;
  const chunks = body[Symbol.asyncIterator]();
  let stalled: OriginStalledError | undefined;
  const stall = () => {
    stalled = new OriginStalledError(minBytes, deadline.windowMs);
    abort(stalled);
  };
  let waitedMs = 0;
  let bytes = 0;
  try {
    for (;;) {
      const began = performance.now();
      const timer = setTimeout(stall, deadline.windowMs - waitedMs);
      let next: IteratorResult<T>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw stalled ?? error;
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
