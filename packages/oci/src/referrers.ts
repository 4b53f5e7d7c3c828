import { OciError } from './errors.ts';
import { MAX_MANIFEST_BYTES, parseManifest } from './manifest.ts';
import { MediaType } from './media-types.ts';

/** Header a registry sets on a referrers answer it filtered (OCI distribution spec 1.1). */
export const FILTERS_APPLIED_HEADER = 'oci-filters-applied';

/** A referrers answer checked to be what the spec says it is, ready to relay. */
export interface ReferrersAnswer {
  /** The image index to serve, filtered by artifactType when asked and upstream did not. */
  bytes: Buffer;
  /** Filters the answer applies (`artifactType`), for the OCI-Filters-Applied header; empty for none. */
  filtersApplied: string[];
}

/**
 * Checks an upstream answer to `GET /v2/<name>/referrers/<digest>`: at most MAX_MANIFEST_BYTES, an OCI
 * image index (schemaVersion 2, mediaType application/vnd.oci.image.index.v1+json, by its field or else
 * its Content-Type) whose every descriptor has a valid digest and size. Asked for an `artifactType` that
 * upstream did not filter by (no OCI-Filters-Applied), the answer is filtered here. Throws OciError
 * MANIFEST_INVALID otherwise.
 */
export function verifyReferrersAnswer(
  bytes: Buffer,
  contentType: string | undefined,
  options: { artifactType?: string; upstreamFilters?: string } = {},
): ReferrersAnswer {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new OciError('MANIFEST_INVALID', `referrers answer is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  const bare = contentType?.split(';')[0]?.trim().toLowerCase();
  if (bare !== undefined && bare !== '' && bare !== MediaType.ociIndex && bare !== 'application/json') {
    throw new OciError(
      'MANIFEST_INVALID',
      `referrers answer has Content-Type ${bare}, not an OCI image index`,
    );
  }
  const parsed = parseManifest(bytes, MediaType.ociIndex);
  if (parsed.kind !== 'index' || parsed.mediaType !== MediaType.ociIndex) {
    throw new OciError(
      'MANIFEST_INVALID',
      `referrers answer is a ${parsed.mediaType}, not an OCI image index`,
    );
  }
  const doc = JSON.parse(bytes.toString('utf8')) as { manifests: { artifactType?: unknown }[] };
  for (const entry of doc.manifests) {
    if (entry.artifactType !== undefined && typeof entry.artifactType !== 'string') {
      throw new OciError('MANIFEST_INVALID', 'a referrer descriptor has a non-string artifactType');
    }
  }
  const applied = (options.upstreamFilters ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (options.artifactType === undefined || applied.includes('artifactType')) {
    return { bytes, filtersApplied: applied };
  }
  const wanted = options.artifactType;
  const filtered = { ...doc, manifests: doc.manifests.filter((entry) => entry.artifactType === wanted) };
  return { bytes: Buffer.from(JSON.stringify(filtered)), filtersApplied: [...applied, 'artifactType'] };
}
