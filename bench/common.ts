/** Helpers shared by the benchmarks. */

export function positiveInt(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} expects a positive integer, got ${value}`);
  return n;
}

/** Progress goes to stderr; stdout carries only the JSON result. */
export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
