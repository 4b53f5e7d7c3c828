const UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, h: 3_600_000 };

/** Parses "90s", "10m", "1h", "500ms" or plain seconds into milliseconds. Throws a message naming the value. */
export function parseDuration(value: string | number): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*$/.exec(String(value));
  const ms = match ? Math.round(Number(match[1]) * UNITS[match[2]!]!) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new Error(`invalid duration "${value}": use e.g. 90s, 10m or 1h`);
  }
  return ms;
}

/**
 * Milliseconds as an option is written, which parseDuration reads back: 500ms, 30s, 15m, 2h. Minutes
 * and hours only from two of them on: 60s and 60m read better than 1m and 1h.
 */
export function formatDurationOption(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Milliseconds for people: "850 ms", "4.2 s", "3 min 5 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
