import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Digest,
  MAX_MANIFEST_BYTES,
  manifestAcceptFor,
  sha256Digest,
  type Upstream,
  type UpstreamResponse,
  UpstreamUnavailableError,
} from '@shoal/oci';
import type { CachedManifest } from '../store/manifest-cache.ts';
import { admit } from './access-guard.ts';
import { discardBody, readForRelay, readLimited } from './body-io.ts';
import { cacheUnlessRefused } from './cache-write.ts';
import { type EndpointContext, relayedRequestHeaders, relayedResponseHeaders } from './context.ts';
import { API_VERSION_HEADER, sendOciError } from './oci-response.ts';

export type CacheResult = 'hit' | 'miss' | 'none';

/** Header marking a tag answered from memory while upstream was unreachable; its value is when upstream last said so. */
export const STALE_TAG_HEADER = 'x-shoal-stale-tag';

/**
 * GET/HEAD /v2/<name>/manifests/<tag|digest>. By digest: from the local cache,
 * else upstream, else (upstream unreachable) from a peer; always checked
 * against the digest. By tag: resolved upstream (no peer is trusted for tags),
 * then cached by digest and remembered; while upstream is unreachable the last
 * answer is used, marked with a header.
 */
export async function handleManifest(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  name: string,
  reference: { tag: string } | { digest: Digest },
): Promise<CacheResult> {
  if ('digest' in reference) {
    const cached = await ctx.manifests.get(reference.digest);
    if (cached) {
      const ref = { upstream, repository: name, digest: reference.digest, kind: 'manifest' } as const;
      if (!(await admit(ctx.access, req, res, ref))) return 'none';
      sendManifest(ctx, res, cached);
      return 'hit';
    }
  }
  const relayed = relayedRequestHeaders(req.headers);
  let upstreamResponse: UpstreamResponse;
  try {
    upstreamResponse = await ctx.client.getManifest(
      upstream,
      name,
      'digest' in reference ? reference.digest : reference.tag,
      { ...relayed, accept: manifestAcceptFor(relayed.accept) },
    );
  } catch (error) {
    if (!(error instanceof UpstreamUnavailableError)) throw error;
    return answerWithoutUpstream(ctx, res, upstream, name, reference, error);
  }
  if (upstreamResponse.status >= 500) {
    discardBody(upstreamResponse.body);
    return answerWithoutUpstream(
      ctx,
      res,
      upstream,
      name,
      reference,
      new UpstreamUnavailableError(`${upstream.registry} answered HTTP ${upstreamResponse.status}`, {
        kind: 'status',
      }),
    );
  }
  if (upstreamResponse.status !== 200) {
    const body = await readForRelay(upstreamResponse.body);
    res.writeHead(upstreamResponse.status, {
      ...API_VERSION_HEADER,
      ...relayedResponseHeaders(upstreamResponse.headers),
      'content-length': body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return 'miss';
  }
  let bytes: Buffer;
  try {
    bytes = await readLimited(upstreamResponse.body, MAX_MANIFEST_BYTES);
  } catch {
    sendOciError(
      res,
      502,
      'MANIFEST_INVALID',
      `upstream manifest is larger than ${MAX_MANIFEST_BYTES} bytes`,
    );
    return 'miss';
  }
  const digest = sha256Digest(bytes);
  const claimed = upstreamResponse.headers['docker-content-digest'];
  const expected = 'digest' in reference ? reference.digest : claimed;
  if (expected !== undefined && expected !== digest) {
    ctx.metrics.verificationFailures.inc({ kind: 'manifest' });
    ctx.logger.warn({ name, expected, actual: digest }, 'upstream manifest does not match its digest');
    sendOciError(res, 502, 'MANIFEST_INVALID', `upstream manifest hashes to ${digest}, expected ${expected}`);
    return 'miss';
  }
  // Upstream served it under this repository: to anyone, or to this client's credentials.
  ctx.access.noteObtained({ upstream, repository: name, digest }, relayed.authorization);
  const mediaType = upstreamResponse.headers['content-type'] ?? guessMediaType(bytes);
  const manifest: CachedManifest = { digest, mediaType, bytes };
  await cacheUnlessRefused(ctx, () => ctx.manifests.put(manifest));
  ctx.peers.announce(digest);
  if ('tag' in reference) {
    const { tag } = reference;
    await cacheUnlessRefused(ctx, () =>
      ctx.manifests.rememberTag(upstream.registry, name, tag, {
        digest,
        mediaType,
        size: bytes.length,
        resolvedAt: Date.now(),
      }),
    );
  }
  sendManifest(ctx, res, manifest);
  return 'miss';
}

/** Upstream is unreachable: digests from peers, tags from the last answer (when allowed). */
async function answerWithoutUpstream(
  ctx: EndpointContext,
  res: ServerResponse,
  upstream: Upstream,
  name: string,
  reference: { tag: string } | { digest: Digest },
  cause: UpstreamUnavailableError,
): Promise<CacheResult> {
  let digest: Digest;
  let staleSince: number | undefined;
  if ('digest' in reference) {
    digest = reference.digest;
  } else {
    // This node's last answer, else the latest a node of the swarm had for a public image.
    const remembered = ctx.serveStaleTags
      ? ((await ctx.manifests.lastKnownTag(upstream.registry, name, reference.tag)) ??
        (await ctx.peers.publicTag(upstream.registry, name, reference.tag)))
      : undefined;
    if (!remembered) throw cause;
    digest = remembered.digest;
    staleSince = remembered.resolvedAt;
  }
  const ref = { upstream, repository: name, digest, kind: 'manifest' } as const;
  const offline = { offline: true, offlineReason: cause.message };
  if (!(await admit(ctx.access, res.req, res, ref, offline))) return 'none';
  let manifest = await ctx.manifests.get(digest);
  if (!manifest) {
    const bytes = await ctx.peers.fetchManifest(digest);
    if (!bytes) throw cause;
    manifest = { digest, mediaType: guessMediaType(bytes), bytes };
    const fetched = manifest;
    await cacheUnlessRefused(ctx, () => ctx.manifests.put(fetched));
    ctx.peers.announce(digest);
  }
  ctx.logger.info({ name, digest, stale: staleSince !== undefined }, 'manifest answered without upstream');
  sendManifest(
    ctx,
    res,
    manifest,
    staleSince === undefined ? {} : { [STALE_TAG_HEADER]: new Date(staleSince).toISOString() },
  );
  return 'hit';
}

function sendManifest(
  ctx: EndpointContext,
  res: ServerResponse,
  manifest: CachedManifest,
  extraHeaders: Record<string, string> = {},
): void {
  // The blobs it names will be asked for next: their sizes hold upstream to its word.
  ctx.descriptorSizes.noteManifest(manifest.bytes);
  res.writeHead(200, {
    ...API_VERSION_HEADER,
    ...extraHeaders,
    'content-type': manifest.mediaType,
    'content-length': manifest.bytes.length,
    'docker-content-digest': manifest.digest,
    etag: `"${manifest.digest}"`,
  });
  res.end(res.req.method === 'HEAD' ? undefined : manifest.bytes);
}

function guessMediaType(bytes: Buffer): string {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    if (typeof parsed.mediaType === 'string') return parsed.mediaType;
  } catch {
    // not JSON: fall through
  }
  return 'application/octet-stream';
}
