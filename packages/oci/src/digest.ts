import { createHash } from 'node:crypto';
import { OciError } from './errors.ts';

/** A validated `sha256:<64 lowercase hex>` digest. The only algorithm shoal accepts. */
export type Digest = string & { readonly __digest: unique symbol };

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(value: string): value is Digest {
  return SHA256_DIGEST.test(value);
}

/** Parses a digest string; anything but sha256 with 64 lowercase hex digits is rejected with a clear error. */
export function parseDigest(value: string): Digest {
  if (SHA256_DIGEST.test(value)) return value as Digest;
  if (value.length > 200) throw new OciError('DIGEST_INVALID', 'digest is too long');
  if (ANY_DIGEST.test(value)) {
    const algorithm = value.slice(0, value.indexOf(':'));
    if (algorithm !== 'sha256') {
      throw new OciError(
        'DIGEST_INVALID',
        `unsupported digest algorithm "${algorithm}": only sha256 is accepted`,
      );
    }
    throw new OciError(
      'DIGEST_INVALID',
      `invalid sha256 digest "${value}": expected 64 lowercase hex characters`,
    );
  }
  throw new OciError('DIGEST_INVALID', `invalid digest "${value}": expected sha256:<64 hex>`);
}

/** Hex part of a digest, used for file names. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function sha256Digest(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

export function digestFromHex(hex: string): Digest {
  return parseDigest(`sha256:${hex}`);
}
