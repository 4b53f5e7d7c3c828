/**
 * Who hears of whom. A peer joining the swarm learns of a random sample of the
 * others, one joining a task of its first members, so it can reach them without
 * the scheduler; a random few of those learn of it in turn, so knowledge goes
 * both ways. Telling every listed peer would cost each join one message per
 * listed peer: at 2,000 peers x 4 tasks that was the bulk of what the
 * scheduler wrote, and always to the same 64 peers.
 */

/** Hosts a newly registered host is told of. */
export const HOSTS_SENT = 64;
/**
 * Members of a task a newcomer to it is told of. Every open carries them with
 * their addresses: at 64 a task open cost 210 us, two thirds of it encoding,
 * and 8,000 opens wrote 86 MB; at 16, a quarter of that.
 */
export const TASK_MEMBERS_SENT = 16;
/** Of those, how many are told of the newcomer. */
export const MEMBERS_TOLD_OF_NEWCOMER = 8;

/** Up to `k` items drawn uniformly without replacement, in one pass (reservoir sampling). */
export function sample<T>(
  items: Iterable<T>,
  k: number,
  keep: (item: T) => boolean = () => true,
  random: () => number = Math.random,
): T[] {
  const out: T[] = [];
  let seen = 0;
  for (const item of items) {
    if (!keep(item)) continue;
    seen++;
    if (out.length < k) out.push(item);
    else {
      const j = Math.floor(random() * seen);
      if (j < k) out[j] = item;
    }
  }
  return out;
}
