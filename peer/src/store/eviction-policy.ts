/** Pure eviction policy: least recently used first, with high/low watermarks. */

export interface CacheEntry {
  key: string;
  size: number;
  lastAccess: number;
  /** Being served or written: never evicted. */
  pinned: boolean;
}

export interface Watermarks {
  capacity: number;
  /** Start evicting above this fraction of capacity. */
  high: number;
  /** Stop evicting at or below this fraction of capacity. */
  low: number;
}

/**
 * Keys to evict so usage falls to the low watermark, oldest access first.
 * Nothing is chosen while usage is at or below the high watermark.
 */
export function chooseEvictions(entries: readonly CacheEntry[], used: number, marks: Watermarks): string[] {
  if (used <= marks.capacity * marks.high) return [];
  const target = marks.capacity * marks.low;
  const victims: string[] = [];
  let remaining = used;
  const candidates = entries.filter((e) => !e.pinned).sort((a, b) => a.lastAccess - b.lastAccess);
  for (const entry of candidates) {
    if (remaining <= target) break;
    victims.push(entry.key);
    remaining -= entry.size;
  }
  return victims;
}
