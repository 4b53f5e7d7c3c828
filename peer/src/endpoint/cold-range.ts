import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Digest, Upstream, UpstreamResponse } from '@shoal/oci';
import { discardedNetworkBytes } from '../memory/young-gc.ts';
import { withMinimumProgress } from '../task/origin-progress.ts';
import { unreachableReason } from './access-probe.ts';
import { discardBody, pipeToResponse } from './body-io.ts';
import { type EndpointContext, relayedRequestHeaders } from './context.ts';
import { API_VERSION_HEADER } from './oci-response.ts';
import { checkSize } from './origin-source.ts';
import { answeredRange, type ByteRange } from './range.ts';

/** The longest wait for upstream's answer before the range goes the usual way (access check, task). */
const ANSWER_TIMEOUT_MS = 15_000;

/**
 * A bounded Range of a blob this node neither holds nor downloads (a lazy puller's first read) is asked
 * of upstream as the client asked it, with the client's credentials or, without any, as this node: one
 * round trip instead of an access check, a task's layout on disk and a ranged fetch of whole pieces.
 * Upstream's 206 is at once the access check (the pairing is noted, as a probe's would be) and the
 * bytes, which carry the trust of the origin's own Range answer, like every range served before the
 * whole digest is known. Returns the blob's size once the range went out (the caller starts the whole
 * download then, so it does not share the origin with the range); undefined, with nothing sent, when
 * upstream answered anything else or could not be reached: the caller goes the usual way, which relays
 * refusals and decides without upstream while it is down.
 */
export async function answerColdRange(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  ref: { upstream: Upstream; repository: string; digest: Digest },
  asked: ByteRange,
  onChunk: (bytes: number) => void,
): Promise<{ size: number } | undefined> {
  const { upstream, repository, digest } = ref;
  if (!ctx.access.reachable(upstream.registry)) return undefined;
  const authorization = relayedRequestHeaders(req.headers).authorization;
  const stall = new AbortController();
  let response: UpstreamResponse;
  try {
    response = await ctx.client.getBlob(upstream, repository, digest, {
      ...(authorization ? { authorization } : {}),
      range: asked,
      signal: AbortSignal.any([stall.signal, AbortSignal.timeout(ANSWER_TIMEOUT_MS)]),
    });
  } catch (error) {
    const reason = unreachableReason(error, ANSWER_TIMEOUT_MS);
    if (reason !== undefined) ctx.access.noteUnreachable(upstream.registry, reason);
    return undefined;
  }
  const answer =
    response.status === 206
      ? answeredRange(asked, response.headers['content-range'], response.headers['content-length'])
      : undefined;
  if (!answer || !sizeAccepted(digest, answer.size, ctx.descriptorSizes.expected(digest))) {
    discardBody(response.body);
    return undefined;
  }
  ctx.access.noteObtained(ref, authorization);
  const { range, size } = answer;
  const length = range.end - range.start + 1;
  res.writeHead(206, {
    ...API_VERSION_HEADER,
    'docker-content-digest': digest,
    'accept-ranges': 'bytes',
    etag: `"${digest}"`,
    'content-type': 'application/octet-stream',
    'content-length': length,
    'content-range': `bytes ${range.start}-${range.end}/${size}`,
  });
  ctx.metrics.rangeBytesBeforeVerification.inc(length);
  const body = withMinimumProgress(
    response.body as AsyncIterable<Buffer>,
    { windowMs: ctx.originStallTimeoutMs },
    (error) => stall.abort(error),
  );
  await pipeToResponse(res, exactly(body, length), (bytes) => {
    onChunk(bytes);
    discardedNetworkBytes(bytes);
  }).then(
    (open) => {
      if (!open) discardBody(response.body);
    },
    (error: Error) => {
      discardBody(response.body);
      ctx.logger.warn({ digest, err: { message: error.message } }, 'range response cut off');
    },
  );
  return { size };
}

function sizeAccepted(digest: Digest, size: number, expected: number | undefined): boolean {
  try {
    checkSize(digest, size, expected);
    return true;
  } catch {
    return false;
  }
}

/** `chunks`, throwing (so the response is cut off, never ended cleanly) unless they hold exactly `length` bytes. */
async function* exactly(chunks: AsyncIterable<Buffer>, length: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of chunks) {
    seen += chunk.length;
    if (seen > length) throw new Error(`upstream sent more than the ${length} bytes of the range`);
    yield chunk;
  }
  if (seen < length) throw new Error(`upstream ended the range ${length - seen} bytes early`);
}
