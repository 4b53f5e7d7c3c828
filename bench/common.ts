/** Helpers shared by the benchmarks. */

import { cpus, loadavg, release } from 'node:os';

export function positiveInt(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} expects a positive integer, got ${value}`);
  return n;
}

/** Progress goes to stderr; stdout carries only the JSON result. */
export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** The machine a figure was taken on, with its 1-minute load average before the run and now. */
export function machineFacts(loadBefore: number) {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    kernel: release(),
    node: process.version,
    loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
  };
}
