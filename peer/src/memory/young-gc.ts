import { v8Collector } from '@shoal/telemetry';

/**
 * Prompt release of HTTP body buffers.
 *
 * Every socket read hands JavaScript a fresh buffer (up to 64 KiB) whose
 * memory lives outside the V8 heap. An origin download turns them into
 * garbage at the link's rate, but the JavaScript objects wrapping them are
 * tiny, so even a small young generation (the peer runs with 2 x 2 MB) fills,
 * and gets collected, only every few dozen MB of body: measured with
 * heaptrack on a 1 GiB origin fill, ~40 MB of dead read buffers at the peak.
 * A young-generation collection every few MiB frees them for about a
 * millisecond each (bench/endpoint, two clients of an uncapped cold pull:
 * peak RSS 147 -> 125 MB). Only for plain HTTP bodies: on the piece path
 * (TLS records of 16 KiB, copied out at once) the same collections promoted
 * buffers still queued in the stream and raised the peak instead.
 *
 * Where V8's `gc` extension is unavailable this does nothing.
 */

/** Bytes of discarded network buffers between two young-generation collections. */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

let pending = 0;

/** Records network buffers the caller is done with; collects the young generation now and then. */
export function discardedNetworkBytes(bytes: number): void {
  pending += bytes;
  if (pending < COLLECT_EVERY_BYTES) return;
  pending = 0;
  v8Collector()?.({ type: 'minor' });
}
