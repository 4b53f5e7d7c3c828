import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC32 of `data`, continuing from `initial` (0 for a fresh sum). */
export type Crc32 = (data: Uint8Array, initial: number) => number;

const simd = await loadSimdCrc32().catch(() => undefined);

/**
 * CRC32 with zlib's polynomial, so the values are zlib's, from @node-rs/crc32: on this project's
 * machines it runs at ~17 GB/s a core against ~7.5 for `zlib.crc32`, and every cached byte served
 * is checked with it (bench/RESULTS.md, "Endpoint"). Where its prebuilt binding does not load (a
 * platform it has none for), zlib's own.
 */
export const crc32: Crc32 = simd ?? zlibCrc32;

/** Which implementation `crc32` is. */
export const crc32Implementation: 'simd' | 'zlib' = simd ? 'simd' : 'zlib';

async function loadSimdCrc32(): Promise<Crc32> {
  const module = await import('@node-rs/crc32');
  // It takes any Uint8Array, not only the Buffers its declaration names.
  return module.crc32 as unknown as Crc32;
}
