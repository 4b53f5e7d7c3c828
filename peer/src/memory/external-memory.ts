import { constants, PerformanceObserver } from 'node:perf_hooks';
import { type Collector, v8Collector } from '@shoal/telemetry';

/**
 * A full collection once buffer memory outside the V8 heap has grown by a few MB.
 *
 * Network buffers still queued when the young generation is collected (the
 * peer's is 2 x 2 MB, collected a few times a second on a transfer) move to
 * the old generation, and only a full collection frees them. V8 starts one
 * for external memory only once it has grown by 64 MB since the last, so a
 * peer serving one blob and downloading another at once carried 30-50 MB of
 * dead buffers (bench/link, section relay: its external memory climbing from
 * 26 to 60-85 MB between two full collections). A full collection of the
 * peer's ~45 MB heap costs tens of milliseconds of CPU; one per `limitBytes`
 * of growth is a few per GiB moved.
 */
export interface ExternalMemoryCollectorOptions {
  /** Growth of external memory since the last full collection that starts one. */
  limitBytes: number;
  /** How often external memory is looked at. */
  intervalMs: number;
  /** The collector and the reading of buffer memory; V8's and Node's by default (tests pass their own). */
  collector?: Collector | null;
  bufferBytes?: () => number;
}

export const DEFAULT_EXTERNAL_MEMORY_LIMIT = 16 * 1024 * 1024;

/** Whether buffer memory has grown enough above its low point since the last full collection to start one. */
export function shouldCollect(bufferBytes: number, lowSinceLastFullGc: number, limitBytes: number): boolean {
  return bufferBytes - lowSinceLastFullGc > limitBytes;
}

/** Watches external memory and asks for a full collection past the limit; returns a stop function. */
export function startExternalMemoryCollector(options: ExternalMemoryCollectorOptions): () => void {
  const collect = options.collector === undefined ? v8Collector() : options.collector;
  if (!collect) return () => {};
  // ArrayBuffer memory, which Node counts as it is freed (V8's external_memory lags behind frees).
  const bufferBytes = options.bufferBytes ?? (() => process.memoryUsage().arrayBuffers);
  let low = bufferBytes();
  let requested = false;
  // Every full collection counts, V8's own too: what survives it is live, not the garbage meant here.
  const restart = () => {
    low = bufferBytes();
    requested = false;
  };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        restart();
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const timer = setInterval(() => {
    const now = bufferBytes();
    // Frees after a collection (young ones, buffers given back) lower the mark garbage is measured from.
    low = Math.min(low, now);
    if (requested || !shouldCollect(now, low, options.limitBytes)) return;
    requested = true;
    // From a task of its own, not inside this timer's callback.
    Promise.resolve(collect({ type: 'major', execution: 'async' })).finally(restart);
  }, options.intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    observer.disconnect();
  };
}
