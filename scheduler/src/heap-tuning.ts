import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the scheduler's heap grow past what survived the last full
 * collection. By default the factor adapts between 1.1 and 4 and, with a
 * scheduler's garbage rate (a few hundred bytes per message, thousands of
 * messages a second), sits near the top: with ~190 MiB live at K=2000 the heap
 * committed 510-600 MiB and stayed there. A fixed 1.5 bounds it at the cost of
 * more frequent (concurrent) marking. Read by V8 after every full collection,
 * so setting it at start-up works.
 */
export function boundHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=50');
}
