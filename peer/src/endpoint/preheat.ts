import { type Digest, fetchManifest, OciError, parseDigest } from '@shoal/oci';
import type { Preheat } from '@shoal/protocol';
import type { EndpointContext } from './context.ts';
import { originSource } from './origin-source.ts';

/**
 * Caches one object of an image because the scheduler asked, as a client's
 * pull would: a blob through this node's download task for its digest (so the
 * swarm and the origin share the work as usual), a manifest fetched upstream,
 * checked against its digest and cached, its tag remembered. Resolves when the
 * object is in the cache; rejects with the reason otherwise. Uses the node's
 * own upstream credentials.
 */
export async function preheatObject(ctx: EndpointContext, request: Preheat): Promise<void> {
  const digest = parseDigest(request.digest);
  const upstream = ctx.upstreams.resolve(request.registry);
  const repository = request.repository;
  // As for a client without credentials: learns whether upstream serves the digest under the repository
  // to anyone, so the cached content can later be served to anonymous clients, even during an outage.
  const kind = request.manifest ? 'manifest' : 'blob';
  await ctx.access.check({ upstream, repository, digest, kind }, undefined).catch(() => {});
  if (request.manifest) {
    await preheatManifest(ctx, request, digest);
    return;
  }
  const pin = ctx.store.pin(digest);
  if (pin) {
    pin.release();
    return;
  }
  const task = ctx.tasks.join(digest, originSource(ctx.client, upstream, repository, digest, undefined));
  await task.finished;
  if (!ctx.store.has(digest)) {
    throw new Error('the blob was downloaded but could not be kept in the cache (too large or disk full)');
  }
}

async function preheatManifest(ctx: EndpointContext, request: Preheat, digest: Digest): Promise<void> {
  const upstream = ctx.upstreams.resolve(request.registry);
  if (!request.tag && (await ctx.manifests.get(digest))) return;
  // A tag is resolved upstream, never taken from the scheduler: the node remembers what upstream said.
  const fetched = await fetchManifest(ctx.client, upstream, request.repository, request.tag || digest);
  if (fetched.digest !== digest) {
    throw new OciError(
      'MANIFEST_INVALID',
      `tag ${request.tag} now names ${fetched.digest}, not ${digest}: the image changed upstream`,
    );
  }
  await ctx.manifests.put({ digest, mediaType: fetched.mediaType, bytes: fetched.bytes });
  ctx.peers.announce(digest);
  if (request.tag) {
    await ctx.manifests.rememberTag(upstream.registry, request.repository, request.tag, {
      digest,
      mediaType: fetched.mediaType,
      size: fetched.bytes.length,
      resolvedAt: Date.now(),
    });
  }
}
