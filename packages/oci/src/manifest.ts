import { type Digest, parseDigest } from './digest.ts';
import { OciError } from './errors.ts';
import { isIndexMediaType, isManifestMediaType, MediaType } from './media-types.ts';

/** Largest manifest or index shoal parses or stores (the distribution spec's recommended minimum limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const SCHEMA1_MEDIA_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  /** Size in bytes, a non-negative safe integer. */
  size: number;
  platform?: Platform;
}

export interface ParsedIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

export interface ParsedImageManifest {
  kind: 'image';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export type ParsedManifest = ParsedIndex | ParsedImageManifest;

/**
 * Parses an image manifest or an index (OCI or Docker schema 2).
 *
 * The media type comes from the document's `mediaType` field, else from `mediaTypeHint` (typically the
 * upstream Content-Type) when that names a manifest media type, else it is inferred from the structure
 * (`manifests` -> OCI index, `layers` -> OCI manifest). Every descriptor's digest and size is validated.
 * Throws OciError MANIFEST_INVALID for malformed or oversized documents, UNSUPPORTED for Docker schema 1.
 */
export function parseManifest(bytes: Uint8Array, mediaTypeHint?: string): ParsedManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new OciError(
      'MANIFEST_INVALID',
      `manifest is ${bytes.byteLength} bytes, larger than the ${MAX_MANIFEST_BYTES}-byte limit`,
    );
  }
  const hint = mediaTypeHint === undefined ? undefined : bareMediaType(mediaTypeHint);
  if (hint !== undefined && SCHEMA1_MEDIA_TYPES.has(hint)) throw schema1();

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new OciError('MANIFEST_INVALID', 'manifest is not valid UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new OciError('MANIFEST_INVALID', 'manifest is not valid JSON');
  }
  if (!isObject(doc)) throw new OciError('MANIFEST_INVALID', 'manifest must be a JSON object');

  if (doc.schemaVersion === 1) throw schema1();
  if (doc.schemaVersion !== 2) {
    throw new OciError('MANIFEST_INVALID', 'manifest schemaVersion must be 2');
  }

  let mediaType: string | undefined;
  if (doc.mediaType !== undefined) {
    if (typeof doc.mediaType !== 'string' || doc.mediaType.length === 0) {
      throw new OciError('MANIFEST_INVALID', 'manifest mediaType must be a non-empty string');
    }
    mediaType = doc.mediaType;
    if (SCHEMA1_MEDIA_TYPES.has(mediaType)) throw schema1();
  } else if (hint !== undefined && isManifestMediaType(hint)) {
    mediaType = hint;
  }

  let kind: 'index' | 'image';
  if (mediaType !== undefined && isIndexMediaType(mediaType)) {
    kind = 'index';
  } else if (mediaType !== undefined && isManifestMediaType(mediaType)) {
    kind = 'image';
  } else if (doc.manifests !== undefined) {
    kind = 'index';
    mediaType ??= MediaType.ociIndex;
  } else if (doc.layers !== undefined || doc.config !== undefined) {
    kind = 'image';
    mediaType ??= MediaType.ociManifest;
  } else {
    throw new OciError(
      'MANIFEST_INVALID',
      mediaType === undefined
        ? 'cannot tell the manifest kind: no mediaType, no manifests and no layers'
        : `unknown manifest media type "${truncate(mediaType)}" and neither manifests nor layers`,
    );
  }

  if (kind === 'index') {
    if (!Array.isArray(doc.manifests)) {
      throw new OciError('MANIFEST_INVALID', 'index must have a "manifests" array');
    }
    const manifests = doc.manifests.map((entry, i) => parseDescriptor(entry, `manifests[${i}]`));
    return { kind, mediaType, manifests };
  }

  if (!isObject(doc.config))
    throw new OciError('MANIFEST_INVALID', 'image manifest must have a "config" object');
  if (!Array.isArray(doc.layers))
    throw new OciError('MANIFEST_INVALID', 'image manifest must have a "layers" array');
  const config = parseDescriptor(doc.config, 'config');
  const layers = doc.layers.map((entry, i) => parseDescriptor(entry, `layers[${i}]`));
  return { kind, mediaType, config, layers };
}

/** Blobs an image manifest references: its config then its layers. An index references no blobs. */
export function referencedBlobs(manifest: ParsedManifest): Descriptor[] {
  return manifest.kind === 'image' ? [manifest.config, ...manifest.layers] : [];
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw new OciError('MANIFEST_INVALID', `${where} must be an object`);
  const { mediaType, digest, size, platform } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) {
    throw new OciError('MANIFEST_INVALID', `${where}.mediaType must be a non-empty string`);
  }
  if (typeof digest !== 'string') throw new OciError('MANIFEST_INVALID', `${where}.digest must be a string`);
  let parsed: Digest;
  try {
    parsed = parseDigest(digest);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'invalid digest';
    throw new OciError('MANIFEST_INVALID', `${where}.digest: ${reason}`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new OciError('MANIFEST_INVALID', `${where}.size must be a non-negative integer`);
  }
  const descriptor: Descriptor = { mediaType, digest: parsed, size };
  if (platform !== undefined) descriptor.platform = parsePlatform(platform, `${where}.platform`);
  return descriptor;
}

function parsePlatform(value: unknown, where: string): Platform {
  if (!isObject(value)) throw new OciError('MANIFEST_INVALID', `${where} must be an object`);
  const { os, architecture, variant } = value;
  if (typeof os !== 'string' || typeof architecture !== 'string') {
    throw new OciError('MANIFEST_INVALID', `${where} must have string "os" and "architecture"`);
  }
  const platform: Platform = { os, architecture };
  if (variant !== undefined) {
    if (typeof variant !== 'string')
      throw new OciError('MANIFEST_INVALID', `${where}.variant must be a string`);
    platform.variant = variant;
  }
  return platform;
}

/** `application/x; charset=utf-8` -> `application/x`. */
function bareMediaType(value: string): string {
  const semicolon = value.indexOf(';');
  return (semicolon >= 0 ? value.slice(0, semicolon) : value).trim().toLowerCase();
}

function schema1(): OciError {
  return new OciError(
    'UNSUPPORTED',
    'Docker schema 1 manifests are not supported; push the image as schema 2 or OCI',
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
