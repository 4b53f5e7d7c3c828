import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Upstream } from '@shoal/oci';
import { discardBody, pipeToResponse } from './body-io.ts';
import { type EndpointContext, relayedRequestHeaders, relayedResponseHeaders } from './context.ts';
import { API_VERSION_HEADER } from './oci-response.ts';

/** GET /v2/<name>/tags/list: passed through to upstream, pagination (n, last) and Link header included. */
export async function handleTags(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  name: string,
  query: string,
): Promise<void> {
  const { authorization } = relayedRequestHeaders(req.headers);
  const response = await ctx.client.getTags(upstream, name, query, authorization ? { authorization } : {});
  const headers: Record<string, string> = {
    ...API_VERSION_HEADER,
    ...relayedResponseHeaders(response.headers),
  };
  const link = response.headers.link;
  // Pagination links point at upstream's path; the path is the same here, so keep only path and query.
  if (link) headers.link = link.replace(/<https?:\/\/[^/>]+/, '<');
  const length = response.headers['content-length'];
  if (length !== undefined) headers['content-length'] = length;
  res.writeHead(response.status, headers);
  if (req.method === 'HEAD') {
    discardBody(response.body);
    res.end();
    return;
  }
  await pipeToResponse(res, response.body);
}
