import { readBodyLimited } from './body.ts';
import { type Digest, isDigest, sha256Digest } from './digest.ts';
import { OciError, type OciErrorCode } from './errors.ts';
import {
  type Descriptor,
  MAX_MANIFEST_BYTES,
  type ParsedImageManifest,
  type ParsedManifest,
  type Platform,
  parseManifest,
  referencedBlobs,
} from './manifest.ts';
import { DEFAULT_MANIFEST_ACCEPT } from './media-types.ts';
import { DEFAULT_PLATFORM, formatPlatform, selectPlatformManifest } from './platform.ts';
import type { RegistryClient, Upstream } from './registry-client.ts';

/** A manifest or index as served, checked against its digest, and parsed. */
export interface FetchedManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
  parsed: ParsedManifest;
}

/** An image reference resolved down to the blobs of one platform. */
export interface ResolvedImage {
  /** What the reference names: an index, or the image manifest itself. */
  top: FetchedManifest;
  /** The image manifest of the platform (`top` itself when that is no index). */
  manifest: FetchedManifest & { parsed: ParsedImageManifest };
  /** The platform entry picked from the index, when `top` is one. */
  platform?: Platform;
  /** Config then layers, each once. */
  blobs: Descriptor[];
}

/** Bytes of an error body read for its message. */
export const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * GET of a manifest by tag or digest. The bytes must hash to the digest asked
 * for, or to the Docker-Content-Digest the registry claims for a tag.
 * Non-200 answers become an OciError naming the status and the registry's message.
 */
export async function fetchManifest(
  client: RegistryClient,
  upstream: Upstream,
  repository: string,
  reference: string,
  options: { signal?: AbortSignal } = {},
): Promise<FetchedManifest> {
  const response = await client.getManifest(upstream, repository, reference, {
    accept: DEFAULT_MANIFEST_ACCEPT,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const where = `${upstream.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  if (response.status !== 200) {
    const body = await readBodyLimited(response.body, ERROR_BODY_LIMIT).catch(() => undefined);
    throw registryStatusError(response.status, where, body, 'MANIFEST_UNKNOWN');
  }
  const bytes = await readBodyLimited(response.body, MAX_MANIFEST_BYTES);
  if (bytes === undefined) {
    throw new OciError('MANIFEST_INVALID', `${where}: manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  const digest = sha256Digest(bytes);
  const expected = isDigest(reference) ? reference : response.headers['docker-content-digest'];
  if (expected !== undefined && expected !== digest) {
    throw new OciError('MANIFEST_INVALID', `${where}: manifest hashes to ${digest}, expected ${expected}`);
  }
  const parsed = parseManifest(bytes, response.headers['content-type']);
  return { digest, mediaType: parsed.mediaType, bytes, parsed };
}

/**
 * Resolves a tag or digest to the image manifest of `platform` (an index is
 * followed one level) and lists its blobs.
 */
export async function resolveImage(
  client: RegistryClient,
  upstream: Upstream,
  repository: string,
  reference: string,
  options: { platform?: Platform; signal?: AbortSignal } = {},
): Promise<ResolvedImage> {
  const top = await fetchManifest(client, upstream, repository, reference, options);
  if (top.parsed.kind === 'image') {
    return { top, manifest: imageOf(top), blobs: uniqueBlobs(top.parsed) };
  }
  const wanted = options.platform ?? DEFAULT_PLATFORM;
  const entry = selectPlatformManifest(top.parsed.manifests, wanted);
  if (!entry) {
    const offered = top.parsed.manifests
      .map((m) => (m.platform ? formatPlatform(m.platform) : undefined))
      .filter(Boolean);
    throw new OciError(
      'MANIFEST_UNKNOWN',
      `${upstream.registry}/${repository}: the index has no ${formatPlatform(wanted)} manifest` +
        ` (it has: ${offered.length > 0 ? offered.join(', ') : 'no platforms'})`,
    );
  }
  const child = await fetchManifest(client, upstream, repository, entry.digest, options);
  if (child.parsed.kind !== 'image') {
    throw new OciError('UNSUPPORTED', `${entry.digest}: an index inside an index is not supported`);
  }
  const manifest = imageOf(child);
  return {
    top,
    manifest,
    ...(entry.platform ? { platform: entry.platform } : {}),
    blobs: uniqueBlobs(manifest.parsed),
  };
}

function imageOf(fetched: FetchedManifest): FetchedManifest & { parsed: ParsedImageManifest } {
  return fetched as FetchedManifest & { parsed: ParsedImageManifest };
}

/** An image may list the same layer twice; it is fetched once. */
function uniqueBlobs(manifest: ParsedImageManifest): Descriptor[] {
  const byDigest = new Map<string, Descriptor>();
  for (const blob of referencedBlobs(manifest))
    if (!byDigest.has(blob.digest)) byDigest.set(blob.digest, blob);
  return [...byDigest.values()];
}

/**
 * An OciError for a registry's answer other than 200: `<what>: registry answered <status>: <message>`,
 * the message taken from the registry's JSON error body when it has one.
 */
export function registryStatusError(
  status: number,
  what: string,
  body: Buffer | undefined,
  notFound: OciErrorCode,
): OciError {
  return new OciError(
    codeForStatus(status, notFound),
    `${what}: registry answered ${status}${registryMessage(body)}`,
  );
}

function codeForStatus(status: number, notFound: OciErrorCode): OciErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'DENIED';
    case 404:
      return notFound;
    case 429:
      return 'TOOMANYREQUESTS';
    default:
      return 'UPSTREAM_ERROR';
  }
}

/** `: <message>` from a registry's JSON error body, when it has one. */
function registryMessage(body: Buffer | undefined): string {
  if (!body || body.length === 0) return '';
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: { message?: unknown }[] };
    const message = doc.errors?.[0]?.message;
    return typeof message === 'string' && message.length > 0 ? `: ${message.slice(0, 200)}` : '';
  } catch {
    return '';
  }
}
