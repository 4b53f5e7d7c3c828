import { join } from 'node:path';
import { type Digest, digestHex } from '@shoal/oci';

/** Where everything lives under the data dir. One place, so layout changes stay in one file. */
export class StorePaths {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }
  /** Per complete blob: its size, piece hashes and check blocks, to check the blob's file against later. */
  get blobRecordsDir(): string {
    return join(this.root, 'blobs', 'records');
  }
  get partialDir(): string {
    return join(this.root, 'partial');
  }
  get manifestsDir(): string {
    return join(this.root, 'manifests', 'sha256');
  }
  get tagsDir(): string {
    return join(this.root, 'tags');
  }
  blob(digest: Digest): string {
    return join(this.blobsDir, digestHex(digest));
  }
  blobRecord(digest: Digest): string {
    return join(this.blobRecordsDir, `${digestHex(digest)}.json`);
  }
  partialData(digest: Digest): string {
    return join(this.partialDir, `${digestHex(digest)}.data`);
  }
  partialMeta(digest: Digest): string {
    return join(this.partialDir, `${digestHex(digest)}.meta.json`);
  }
  manifest(digest: Digest): string {
    return join(this.manifestsDir, digestHex(digest));
  }
  manifestMeta(digest: Digest): string {
    return join(this.manifestsDir, `${digestHex(digest)}.json`);
  }
  tag(registry: string, repository: string, tag: string): string {
    return join(this.tagsDir, encodeURIComponent(registry), encodeURIComponent(repository), `${tag}.json`);
  }
}

/** Temp file next to `path`, renamed over it when complete; leftovers are removed at start-up. */
export function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
}
