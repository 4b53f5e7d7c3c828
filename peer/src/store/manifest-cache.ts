import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Digest, sha256Digest } from '@shoal/oci';
import { writeFileAtomic } from './atomic-file.ts';
import type { StorePaths } from './paths.ts';

export interface CachedManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

export interface TagRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  /** ms since epoch when upstream last gave this answer */
  resolvedAt: number;
}

/**
 * Manifests by digest (content-addressed, re-verified on every read) and the
 * last tag -> digest answer per repository, kept for when upstream is away.
 */
export class ManifestCache {
  readonly #paths: StorePaths;

  constructor(paths: StorePaths) {
    this.#paths = paths;
  }

  async get(digest: Digest): Promise<CachedManifest | undefined> {
    let bytes: Buffer;
    let meta: { mediaType: string };
    try {
      [bytes, meta] = await Promise.all([
        readFile(this.#paths.manifest(digest)),
        readFile(this.#paths.manifestMeta(digest), 'utf8').then(
          (t) => JSON.parse(t) as { mediaType: string },
        ),
      ]);
    } catch {
      return undefined;
    }
    // A manifest is small; re-hashing it on every read means disk rot is never served.
    if (sha256Digest(bytes) !== digest) return undefined;
    return { digest, mediaType: meta.mediaType, bytes };
  }

  /** Stores a manifest whose bytes were already checked against `digest`. */
  async put(manifest: CachedManifest): Promise<void> {
    if (sha256Digest(manifest.bytes) !== manifest.digest)
      throw new Error('manifest bytes do not match digest');
    await writeFileAtomic(this.#paths.manifest(manifest.digest), manifest.bytes);
    await writeFileAtomic(
      this.#paths.manifestMeta(manifest.digest),
      JSON.stringify({ mediaType: manifest.mediaType }),
    );
  }

  async rememberTag(registry: string, repository: string, tag: string, record: TagRecord): Promise<void> {
    const path = this.#paths.tag(registry, repository, tag);
    await mkdir(dirname(path), { recursive: true }).catch(async (error: unknown) => {
      // A recursive mkdir in a directory that refuses writes reports ENOENT; the write check names the cause.
      await access(this.#paths.tagsDir, constants.W_OK);
      throw error;
    });
    await writeFileAtomic(path, JSON.stringify(record));
  }

  async lastKnownTag(registry: string, repository: string, tag: string): Promise<TagRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.#paths.tag(registry, repository, tag), 'utf8')) as TagRecord;
    } catch {
      return undefined;
    }
  }
}
