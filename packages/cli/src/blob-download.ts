import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Digest,
  discardBody,
  ERROR_BODY_LIMIT,
  OciError,
  type RegistryClient,
  readBodyLimited,
  registryStatusError,
  type Upstream,
} from '@shoal/oci';

/** Hashes and counts what flows through, unchanged. */
class DigestTap extends Transform {
  readonly #hash = createHash('sha256');
  readonly #onBytes: (bytes: number) => void;
  bytes = 0;

  constructor(onBytes: (bytes: number) => void) {
    super();
    this.#onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    this.#onBytes(chunk.length);
    callback(null, chunk);
  }

  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}

export interface BlobDownload {
  digest: Digest;
  /** Expected size, when a descriptor tells it. */
  size?: number;
  /** Final path; bytes go to a temporary file beside it, renamed once they match the digest. */
  path: string;
  onBytes?: (bytes: number) => void;
  /** Told the size once the response headers arrive. */
  onSize?: (size: number) => void;
  /** Stops the download; the temporary file is removed before the promise rejects. */
  signal?: AbortSignal;
}

/** The temporary name a download (or a layout file) is written under before it is renamed into place. */
export function partialPath(path: string): string {
  return `${path}${PARTIAL_INFIX}${process.pid}`;
}

export const PARTIAL_INFIX = '.partial-';

/**
 * Streams a blob to disk through a registry (or a shoal endpoint), hashing as
 * it goes: memory stays bounded whatever the size, and the file appears under
 * its name only when its bytes match the digest (and the size, when known).
 */
export async function downloadBlob(
  client: RegistryClient,
  upstream: Upstream,
  repository: string,
  download: BlobDownload,
): Promise<number> {
  const signal = download.signal;
  const response = await client.getBlob(upstream, repository, download.digest, signal ? { signal } : {});
  if (response.status !== 200) {
    const body = await readBodyLimited(response.body, ERROR_BODY_LIMIT).catch(() => undefined);
    throw registryStatusError(response.status, `${repository}@${download.digest}`, body, 'BLOB_UNKNOWN');
  }
  const announced = Number(response.headers['content-length']);
  if (download.size !== undefined && Number.isSafeInteger(announced) && announced !== download.size) {
    discardBody(response.body);
    throw new OciError(
      'SIZE_INVALID',
      `${download.digest}: the endpoint announces ${announced} bytes, the manifest says ${download.size}`,
    );
  }
  if (Number.isSafeInteger(announced)) download.onSize?.(announced);
  const temporary = partialPath(download.path);
  const tap = new DigestTap(download.onBytes ?? (() => {}));
  try {
    await pipeline(response.body, tap, createWriteStream(temporary), signal ? { signal } : {});
    const actual = tap.digest();
    if (actual !== download.digest) {
      throw new OciError('DIGEST_INVALID', `${download.digest}: the bytes received hash to ${actual}`);
    }
    if (download.size !== undefined && tap.bytes !== download.size) {
      throw new OciError(
        'SIZE_INVALID',
        `${download.digest}: received ${tap.bytes} bytes, the manifest says ${download.size}`,
      );
    }
    await rename(temporary, download.path);
    return tap.bytes;
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Whether `path` already holds exactly the blob (checked by hashing it, streamed). */
export async function hasBlob(path: string, digest: Digest, size: number): Promise<boolean> {
  try {
    if ((await stat(path)).size !== size) return false;
    const tap = new DigestTap(() => {});
    await pipeline(createReadStream(path), tap, async (source: AsyncIterable<Buffer>) => {
      for await (const _ of source);
    });
    return tap.digest() === digest;
  } catch {
    return false;
  }
}
