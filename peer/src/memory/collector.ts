import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's `gc` extension: a collection of the given kind, now or from a task. */
export type Collector = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => unknown;

let collector: Collector | null | undefined;

/**
 * The collector, reached through V8's `gc` extension (enabled for contexts
 * created from here on, so the process needs no --expose-gc flag); null where
 * that is unavailable.
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
