import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Every setting a shoal process changes in its own runtime (V8 flags, the
 * collector it may call), in one place: each is process-wide, so a reader of
 * one component should not have to find the others to know how the heap
 * behaves.
 */

/**
 * A peer: when V8 starts a full collection.
 *
 * By default V8 starts incremental marking of the old generation as soon as
 * the room left under its limit is smaller than the young generation's
 * capacity. A peer's old generation is small (~30 MB, mostly libp2p) and its
 * limit only about twice that, while the young generation grows to 2 x 32 MB
 * during a transfer: the room is then always "too small", and V8 marks the
 * whole heap again and again. Measured on a 1 GiB piece download: ~50 full
 * mark-compacts, ~20% of the process's CPU in marking. With these triggers
 * marking starts once 80% of the room is used (at once at 95%): 4 full
 * collections for the same download. The old generation's limit itself is
 * unchanged. The flags are read at every decision, so setting them at start-up
 * is enough.
 */
export function tunePeerRuntime(): void {
  setFlagsFromString('--incremental-marking-soft-trigger=80');
  setFlagsFromString('--incremental-marking-hard-trigger=95');
}

/**
 * The scheduler: how far V8 lets its heap grow past what survived the last full
 * collection. By default the factor adapts between 1.1 and 4 and, with a
 * scheduler's garbage rate (a few hundred bytes per message, thousands of
 * messages a second), sits near the top: with ~190 MiB live at K=2000 the heap
 * committed 510-600 MiB and stayed there. A fixed 1.5 bounds it at the cost of
 * more frequent (concurrent) marking. Read by V8 after every full collection,
 * so setting it at start-up works.
 */
export function tuneSchedulerRuntime(): void {
  setFlagsFromString('--heap-growing-percent=50');
}

/** V8's `gc` extension: a collection of the given kind, now or from a task. */
export type Collector = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => unknown;

let collector: Collector | null | undefined;

/**
 * The collector, for collections a process forces itself (a peer collects its
 * young generation after large network reads, see peer/src/memory), reached
 * through V8's `gc` extension (enabled for contexts created from here on, so
 * the process needs no --expose-gc flag); null where that is unavailable.
 */
export function v8Collector(): Collector | null {
  if (collector !== undefined) return collector;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    collector = typeof gc === 'function' ? (gc as Collector) : null;
  } catch {
    collector = null;
  }
  return collector;
}
