import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Prompt release of network read buffers.
 *
 * Every socket read hands JavaScript a fresh buffer whose memory lives outside
 * the V8 heap. A blob download turns them into garbage at the link's rate, but
 * the JavaScript objects wrapping them are tiny, so the young generation
 * (where they die) fills, and gets collected, only rarely. V8 reacts to the
 * growing off-heap memory instead with a full mark-compact of the whole heap
 * every 64 MB or so. Measured on a 1 GiB origin download: about 30% of the
 * process's CPU in major GC, some 60 MB of dead buffers at the peak, and fresh
 * pages faulted in for every new batch of reads. A young-generation collection
 * every few MiB frees those buffers for about a millisecond each and keeps
 * malloc reusing warm memory.
 *
 * The collector is reached through V8's `gc` extension, enabled for contexts
 * created from here on; where that is unavailable this does nothing.
 */

/** Bytes of discarded network buffers between two young-generation collections. */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

type Collector = (options: { type: 'minor' }) => void;

let collector: Collector | null | undefined;
let pending = 0;

function loadCollector(): Collector | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as Collector) : null;
  } catch {
    return null;
  }
}

/** Records network buffers the caller is done with; collects the young generation now and then. */
export function discardedNetworkBytes(bytes: number): void {
  pending += bytes;
  if (pending < COLLECT_EVERY_BYTES) return;
  pending = 0;
  collector ??= loadCollector();
  collector?.({ type: 'minor' });
}
