import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Descriptor, type Digest, digestHex, MediaType, type Platform } from '@shoal/oci';
import { PARTIAL_INFIX, partialPath } from './blob-download.ts';

/** Annotation naming a tag in an OCI layout's index.json (what `oci:<dir>:<tag>` refers to). */
export const REF_NAME = 'org.opencontainers.image.ref.name';

interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: IndexEntry[];
}

/**
 * An OCI image layout on disk (oci-layout, index.json, blobs/sha256/<hex>),
 * new or one that already exists and is added to. Every file is written
 * under a temporary name and renamed, so a reader never sees half of one.
 */
export class OciLayout {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Throws LayoutError when `dir` exists and holds something other than a layout. Creates nothing. */
  static async check(dir: string): Promise<{ exists: boolean }> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { exists: false };
      if (code === 'ENOTDIR') throw new LayoutError(`${dir} is a file, not a directory for an OCI layout`);
      throw error;
    }
    if (entries.length > 0 && !entries.includes('oci-layout')) {
      throw new LayoutError(`${dir} is neither empty nor an OCI layout (it has no oci-layout file)`);
    }
    return { exists: entries.includes('oci-layout') };
  }

  /** Opens `dir` as a layout, creating it; a directory that holds something else is refused. */
  static async open(dir: string): Promise<OciLayout> {
    const { exists } = await OciLayout.check(dir);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    const layout = new OciLayout(dir);
    await removeAbandonedPartials(join(dir, 'blobs', 'sha256'));
    await removeAbandonedPartials(dir);
    if (!exists) {
      await layout.#writeFile('oci-layout', `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
    }
    return layout;
  }

  blobPath(digest: Digest): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(digest));
  }

  /** Writes a small blob already checked against its digest (a manifest). */
  async putBlob(digest: Digest, bytes: Buffer): Promise<void> {
    await this.#writeFile(join('blobs', 'sha256', digestHex(digest)), bytes);
  }

  /**
   * Lists `manifest` in index.json, under `tag` when given: an entry with the
   * same tag is replaced, other entries are kept.
   */
  async addToIndex(manifest: Descriptor, tag: string | undefined): Promise<void> {
    const index = await this.#readIndex();
    const entry: IndexEntry = {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.size,
      ...(manifest.platform ? { platform: manifest.platform } : {}),
      ...(tag ? { annotations: { [REF_NAME]: tag } } : {}),
    };
    index.manifests = index.manifests.filter((existing) =>
      tag
        ? existing.annotations?.[REF_NAME] !== tag
        : existing.digest !== manifest.digest || existing.annotations?.[REF_NAME] !== undefined,
    );
    index.manifests.push(entry);
    await this.#writeFile('index.json', `${JSON.stringify(index, null, 2)}\n`);
  }

  async #readIndex(): Promise<LayoutIndex> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'index.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
    }
    const index = JSON.parse(text) as LayoutIndex;
    if (!Array.isArray(index.manifests)) {
      throw new LayoutError(`${join(this.dir, 'index.json')} has no manifests list`);
    }
    return index;
  }

  async #writeFile(relative: string, content: string | Buffer): Promise<void> {
    const path = join(this.dir, relative);
    const temporary = partialPath(path);
    await writeFile(temporary, content);
    await rename(temporary, path);
  }
}

/**
 * Deletes the temporary files of downloads whose process is gone (killed before it could clean up):
 * they are never resumed, and a layout's blobs/ must hold blobs only.
 */
async function removeAbandonedPartials(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const at = name.lastIndexOf(PARTIAL_INFIX);
    if (at < 0) continue;
    const pid = Number(name.slice(at + PARTIAL_INFIX.length));
    if (!Number.isSafeInteger(pid) || pid <= 0 || isAlive(pid)) continue;
    await rm(join(dir, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The output directory cannot hold a layout. */
export class LayoutError extends Error {
  readonly code = 'LAYOUT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'LayoutError';
  }
}
