import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Digest, Upstream } from '@shoal/oci';
import { discardedNetworkBytes } from '../memory/young-gc.ts';
import { withMinimumProgress } from '../task/origin-progress.ts';
import { discardBody, drainedOrClosed, readForRelay } from './body-io.ts';
import { type EndpointContext, relayedResponseHeaders } from './context.ts';
import { API_VERSION_HEADER, sendOciError } from './oci-response.ts';
import { checkSize } from './origin-source.ts';

/**
 * Streams a blob from upstream to one client without caching it (it does not
 * fit, or the disk is full). The sha256 is computed on the way and the last
 * chunk is held back until it matches, so a wrong body is cut off, never
 * ended cleanly. Range is ignored (a 200 with the whole blob), since a range
 * alone cannot be verified.
 */
export async function passThrough(
  ctx: EndpointContext,
  res: ServerResponse,
  upstream: Upstream,
  name: string,
  digest: Digest,
  authorization: string | undefined,
  onChunk: (bytes: number) => void,
): Promise<void> {
  const stall = new AbortController();
  const response = await ctx.client.getBlob(upstream, name, digest, {
    ...(authorization ? { authorization } : {}),
    signal: stall.signal,
  });
  if (response.status !== 200) {
    const body = await readForRelay(response.body);
    res.writeHead(response.status >= 500 ? 502 : response.status, {
      ...API_VERSION_HEADER,
      ...relayedResponseHeaders(response.headers),
      'content-length': body.length,
    });
    res.end(body);
    return;
  }
  const size = Number(response.headers['content-length']);
  if (!Number.isSafeInteger(size)) {
    discardBody(response.body);
    sendOciError(res, 502, 'UPSTREAM_ERROR', 'upstream blob response has no Content-Length');
    return;
  }
  try {
    checkSize(digest, size, ctx.descriptorSizes.expected(digest));
  } catch (error) {
    discardBody(response.body);
    ctx.logger.warn({ digest, err: (error as Error).message }, 'upstream blob refused');
    sendOciError(res, 502, 'UPSTREAM_ERROR', (error as Error).message);
    return;
  }
  res.writeHead(200, {
    ...API_VERSION_HEADER,
    'content-type': 'application/octet-stream',
    'content-length': size,
    'docker-content-digest': digest,
  });
  const hash = createHash('sha256');
  let held: Buffer | undefined;
  try {
    const body = withMinimumProgress(
      response.body as AsyncIterable<Buffer>,
      { windowMs: ctx.originStallTimeoutMs },
      (error) => stall.abort(error),
    );
    for await (const chunk of body) {
      if (res.destroyed) {
        discardBody(response.body);
        return;
      }
      hash.update(chunk);
      discardedNetworkBytes(chunk.length);
      if (held) {
        onChunk(held.length);
        if (!res.write(held) && !(await drainedOrClosed(res))) {
          discardBody(response.body);
          return;
        }
      }
      held = chunk;
    }
  } catch (error) {
    ctx.logger.warn({ digest, err: (error as Error).message }, 'streamed-through blob cut off');
    res.destroy(error as Error);
    return;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) {
    ctx.metrics.verificationFailures.inc({ kind: 'blob' });
    ctx.logger.warn({ digest, actual }, 'streamed-through blob does not match its digest; response cut off');
    res.destroy();
    return;
  }
  if (held) onChunk(held.length);
  res.end(held);
}
