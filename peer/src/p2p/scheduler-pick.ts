import { createHash } from 'node:crypto';

/**
 * Rendezvous hashing: the scheduler responsible for a digest is the one with
 * the highest hash of (scheduler, digest). When a scheduler joins or leaves,
 * only its own digests move. Pure.
 */
export function pickScheduler(digest: string, schedulers: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const id of schedulers) {
    const weight = createHash('sha256').update(id).update('\0').update(digest).digest().readBigUInt64BE(0);
    if (weight > bestWeight) {
      bestWeight = weight;
      best = id;
    }
  }
  return best;
}
