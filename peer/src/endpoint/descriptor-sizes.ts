import type { Digest } from '@shoal/oci';

/** Digests remembered; the oldest are forgotten first (a few MB at most). */
const MAX_ENTRIES = 50_000;

/**
 * The sizes manifests served here give their blobs (config, layers,
 * artifact blobs). Upstream's own statement of a blob's size (its
 * Content-Length or Content-Range) must agree before a byte is written or
 * relayed: a lying upstream cannot make this node reserve, fetch or pass on
 * 20 GB for a layer its manifest says is 4 MB. Blobs no manifest here named
 * are not checked (their digest still is, at the end).
 */
export class DescriptorSizes {
  readonly #sizes = new Map<string, number>();

  /** Notes the descriptors of a manifest (an index's entries are manifests, not blobs: skipped). */
  noteManifest(bytes: Uint8Array): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const { config, layers, blobs } = parsed as { config?: unknown; layers?: unknown; blobs?: unknown };
    for (const descriptor of [
      config,
      ...(Array.isArray(layers) ? layers : []),
      ...(Array.isArray(blobs) ? blobs : []),
    ]) {
      this.#note(descriptor);
    }
  }

  /** The size manifests give this blob, if one did. */
  expected(digest: Digest): number | undefined {
    return this.#sizes.get(digest);
  }

  #note(descriptor: unknown): void {
    if (typeof descriptor !== 'object' || descriptor === null) return;
    const { digest, size } = descriptor as { digest?: unknown; size?: unknown };
    if (typeof digest !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      return;
    this.#sizes.delete(digest);
    this.#sizes.set(digest, size);
    if (this.#sizes.size > MAX_ENTRIES) this.#sizes.delete(this.#sizes.keys().next().value!);
  }
}
