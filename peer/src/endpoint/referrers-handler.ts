import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  FILTERS_APPLIED_HEADER,
  MAX_MANIFEST_BYTES,
  MediaType,
  OciError,
  type Upstream,
  type UpstreamResponse,
  UpstreamUnavailableError,
  verifyReferrersAnswer,
} from '@shoal/oci';
import { admit, type ContentRef } from './access-guard.ts';
import { discardBody, readForRelay, readLimited } from './body-io.ts';
import { type EndpointContext, relayedRequestHeaders, relayedResponseHeaders } from './context.ts';
import { API_VERSION_HEADER, sendOciError } from './oci-response.ts';
import { RecentReferrers, type RememberedReferrers } from './recent-referrers.ts';
import type { Route } from './routes.ts';

/** Header marking a referrers answer served from memory while upstream was unreachable: when upstream gave it. */
export const STALE_REFERRERS_HEADER = 'x-shoal-stale-referrers';

/**
 * GET/HEAD /v2/<name>/referrers/<digest> (OCI distribution 1.1): asked of upstream with the client's
 * credentials, checked to be an OCI image index (size-limited, parsed, mediaType), filtered by
 * `artifactType` when upstream did not, and remembered for a while; while upstream is unreachable the
 * last answer is served, marked with x-shoal-stale-referrers. Any other answer (a registry without the
 * API answers 404) is relayed as upstream gave it.
 */
export async function handleReferrers(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  { name, digest }: Extract<Route, { kind: 'referrers' }>,
  query: string,
): Promise<void> {
  const artifactType = new URLSearchParams(query).get('artifactType') ?? undefined;
  const key = RecentReferrers.key(upstream.registry, name, digest, artifactType);
  const subject: ContentRef = { upstream, repository: name, digest, kind: 'manifest' };
  const { authorization } = relayedRequestHeaders(req.headers);
  let response: UpstreamResponse;
  try {
    response = await ctx.client.getReferrers(
      upstream,
      name,
      digest,
      query,
      authorization ? { authorization } : {},
    );
  } catch (error) {
    if (!(error instanceof UpstreamUnavailableError)) throw error;
    return answerFromMemory(ctx, req, res, subject, key, error);
  }
  if (response.status >= 500 || response.status === 429) {
    if (ctx.referrers.last(key)) {
      discardBody(response.body);
      const cause = new UpstreamUnavailableError(`${upstream.registry} answered HTTP ${response.status}`, {
        kind: 'status',
      });
      return answerFromMemory(ctx, req, res, subject, key, cause);
    }
  }
  if (response.status !== 200) return relay(res, response);
  let bytes: Buffer;
  try {
    bytes = await readLimited(response.body, MAX_MANIFEST_BYTES);
  } catch {
    throw new OciError(
      'MANIFEST_INVALID',
      `upstream referrers answer is larger than ${MAX_MANIFEST_BYTES} bytes`,
    );
  }
  let answer: ReturnType<typeof verifyReferrersAnswer>;
  try {
    answer = verifyReferrersAnswer(bytes, response.headers['content-type'], {
      ...(artifactType !== undefined ? { artifactType } : {}),
      ...(response.headers[FILTERS_APPLIED_HEADER]
        ? { upstreamFilters: response.headers[FILTERS_APPLIED_HEADER] }
        : {}),
    });
  } catch (error) {
    ctx.metrics.verificationFailures.inc({ kind: 'referrers' });
    ctx.logger.warn({ name, digest, err: (error as Error).message }, 'upstream referrers answer refused');
    throw error;
  }
  ctx.referrers.remember(key, answer);
  const link = response.headers.link;
  // Pagination links point at upstream's path; the path is the same here, so keep only path and query.
  send(res, answer, link ? { link: link.replace(/<https?:\/\/[^/>]+/, '<') } : {});
}

/** Upstream is unreachable: the last answer, if one is remembered and the client may read the subject. */
async function answerFromMemory(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  subject: ContentRef,
  key: string,
  cause: UpstreamUnavailableError,
): Promise<void> {
  const remembered = ctx.referrers.last(key);
  if (!remembered) throw cause;
  // Who may read the subject manifest under this repository may read what refers to it.
  if (!(await admit(ctx.access, req, res, subject, { offline: true, offlineReason: cause.message }))) return;
  ctx.logger.info(
    { name: subject.repository, reason: cause.message },
    'referrers answered from memory without upstream',
  );
  send(res, remembered, { [STALE_REFERRERS_HEADER]: new Date(remembered.answeredAt).toISOString() });
}

function send(
  res: ServerResponse,
  answer: Pick<RememberedReferrers, 'bytes' | 'filtersApplied'>,
  extraHeaders: Record<string, string>,
): void {
  res.writeHead(200, {
    ...API_VERSION_HEADER,
    ...extraHeaders,
    ...(answer.filtersApplied.length > 0
      ? { [FILTERS_APPLIED_HEADER]: answer.filtersApplied.join(',') }
      : {}),
    'content-type': MediaType.ociIndex,
    'content-length': answer.bytes.length,
  });
  res.end(res.req.method === 'HEAD' ? undefined : answer.bytes);
}

/** Upstream's answer as it gave it: status, the headers worth relaying, the (bounded) body. */
async function relay(res: ServerResponse, response: UpstreamResponse): Promise<void> {
  const body = await readForRelay(response.body);
  if (res.headersSent)
    return sendOciError(res, 502, 'UPSTREAM_ERROR', 'upstream answer could not be relayed');
  res.writeHead(response.status, {
    ...API_VERSION_HEADER,
    ...relayedResponseHeaders(response.headers),
    'content-length': body.length,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
