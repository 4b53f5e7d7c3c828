import { createHash } from 'node:crypto';
import type { Digest } from '@shoal/oci';
import type { BodySource } from './body-io.ts';

/** A cached blob's bytes, read back, do not hash to its digest. */
export class CachedBlobMismatchError extends Error {
  constructor(digest: Digest, actual: string) {
    super(`cached blob ${digest} hashes to ${actual}`);
    this.name = 'CachedBlobMismatchError';
  }
}

/**
 * A whole blob's body, hashed as it is read. The read that brings the last
 * bytes fails instead when the digest does not match, so those bytes are
 * never sent and the response is cut off rather than ended cleanly.
 */
export function digestCheckedBody(source: BodySource, digest: Digest, size: number): BodySource {
  const hash = createHash('sha256');
  let position = 0;
  return {
    async fill(into) {
      const filled = await source.fill(into);
      if (filled <= 0) return filled;
      hash.update(into.subarray(0, filled));
      position += filled;
      if (position === size) {
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== digest) throw new CachedBlobMismatchError(digest, actual);
      }
      return filled;
    },
    close: () => source.close(),
  };
}
