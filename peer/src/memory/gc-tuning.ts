import { setFlagsFromString } from 'node:v8';

/**
 * When V8 starts a full collection.
 *
 * By default V8 starts incremental marking of the old generation as soon as
 * the room left under its limit is smaller than the young generation's
 * capacity. A peer's old generation is small (~30 MB, mostly libp2p) and its
 * limit only about twice that, while the young generation grows to 2 x 32 MB
 * during a transfer: the room is then always "too small", and V8 marks the
 * whole heap again and again. Measured on a 1 GiB piece download: ~50 full
 * mark-compacts, ~20% of the process's CPU in marking. With these triggers
 * marking starts once 80% of the room is used (at once at 95%), as the flags
 * describe: 4 full collections for the same download. The old generation's
 * limit itself is unchanged. The flags are read at every decision, so setting
 * them at start-up is enough.
 */
export function tuneGarbageCollector(): void {
  setFlagsFromString('--incremental-marking-soft-trigger=80');
  setFlagsFromString('--incremental-marking-hard-trigger=95');
}
