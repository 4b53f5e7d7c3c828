import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { OciError, type Upstream, UpstreamUnavailableError } from '@shoal/oci';
import { closeServer, listen } from '@shoal/telemetry';
import { type Refusal, sendRefusal } from './access-guard.ts';
import { handleBlob } from './blob-handler.ts';
import type { EndpointContext } from './context.ts';
import { handleManifest } from './manifest-handler.ts';
import { answerAsOciErrors, missingHost } from './node-answers.ts';
import { API_VERSION_HEADER, answeredError, ociErrorBody, sendOciError, statusOf } from './oci-response.ts';
import { handleReferrers } from './referrers-handler.ts';
import { REQUEST_ID_HEADER, requestIdFor } from './request-id.ts';
import { parseRequestUrl, type Route } from './routes.ts';
import { handleTags } from './tags-handler.ts';

/** Request headers above this size are refused with 431 before any handler runs. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Requests one client address may have in flight; more are answered 429 at once. */
export const DEFAULT_MAX_REQUESTS_PER_CLIENT = 256;
/**
 * Requests all clients together may have in flight; more are answered 503 at
 * once. Each answer being sent holds a page of the send budget at least, and
 * the budget keeps one for up to as many senders as it has half-pages.
 */
export const DEFAULT_MAX_REQUESTS = 1024;
/** A client that has not sent its whole request head by then (a slowloris) is answered 408 and dropped. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;

export interface RegistryServerOptions {
  maxRequests?: number;
  maxRequestsPerClient?: number;
  headersTimeoutMs?: number;
}

export interface RegistryServer {
  readonly server: Server;
  close(): Promise<void>;
}

/** The node-local, read-only OCI distribution endpoint. */
export async function startRegistryServer(
  ctx: EndpointContext,
  address: string,
  options: RegistryServerOptions = {},
): Promise<RegistryServer> {
  const maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS;
  const maxPerClient = options.maxRequestsPerClient ?? DEFAULT_MAX_REQUESTS_PER_CLIENT;
  let inFlightTotal = 0;
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const inFlight = new Map<string, number>();
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      // Refused by the handler, with an OCI error body (Node's own refusal has none).
      requireHostHeader: false,
      // Bodies stream for as long as they take; only the request head has a deadline.
      requestTimeout: 0,
      headersTimeout,
      // Node checks the deadline at this interval: a late head is dropped within a quarter of the timeout.
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      // Every answer carries the request's id, refusals included, so a client's report can be found in the log.
      const requestId = requestIdFor(req.headers[REQUEST_ID_HEADER]);
      res.setHeader(REQUEST_ID_HEADER, requestId);
      const client = req.socket.remoteAddress ?? '';
      const count = (inFlight.get(client) ?? 0) + 1;
      const refusal =
        count > maxPerClient
          ? ([
              429,
              'TOOMANYREQUESTS',
              `more than ${maxPerClient} requests in flight from this client`,
            ] as const)
          : inFlightTotal >= maxRequests
            ? ([503, 'UNAVAILABLE', `more than ${maxRequests} requests in flight on this endpoint`] as const)
            : undefined;
      if (refusal) {
        const [status, code, message] = refusal;
        ctx.metrics.requests.inc({
          route: 'unknown',
          method: req.method ?? '',
          status: String(status),
          cache: 'none',
        });
        sendOciError(res, status, code, message, { 'retry-after': '1' });
        return;
      }
      inFlight.set(client, count);
      inFlightTotal++;
      res.once('close', () => {
        inFlightTotal--;
        const left = (inFlight.get(client) ?? 1) - 1;
        if (left > 0) inFlight.set(client, left);
        else inFlight.delete(client);
      });
      void handleRequest(ctx, req, res, requestId);
    },
  );
  answerAsOciErrors(server);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const [status, reason, code, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'SIZE_INVALID', 'request headers too large']
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'UNSUPPORTED', 'request headers not received in time']
          : [400, 'Bad Request', 'UNSUPPORTED', 'malformed HTTP request'];
    const body = ociErrorBody(code, message);
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    // A slowloris would keep its half of the connection open: close it once the answer is out.
    if (status === 408) socket.destroySoon();
  });
  await listen(server, address);
  return { server, close: () => closeServer(server) };
}

/** Longest URL written to the log. */
const LOGGED_URL_LENGTH = 512;

async function handleRequest(
  endpoint: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Promise<void> {
  const started = performance.now();
  // The handlers log through the request's own logger: every line about this request carries its id.
  const log = endpoint.logger.child({ reqId: requestId });
  const ctx: EndpointContext = { ...endpoint, logger: log };
  let routeName = 'unknown';
  let cache = 'none';
  res.on('close', () => {
    const ms = performance.now() - started;
    ctx.metrics.requests.inc({
      route: routeName,
      method: req.method ?? '',
      status: String(res.statusCode),
      cache,
    });
    ctx.metrics.requestDuration.observe({ route: routeName }, ms / 1000);
    // Headers are never logged: they may hold credentials.
    const failure = answeredError(res);
    const line = {
      method: req.method,
      url: req.url?.slice(0, LOGGED_URL_LENGTH),
      status: res.statusCode,
      route: routeName,
      cache,
      ms: Math.round(ms),
      ...(res.writableFinished ? {} : { cutOff: true }),
      ...(failure ? { error: failure } : {}),
    };
    if (res.statusCode >= 500) log.warn(line, 'request answered with a server error');
    else log.debug(line, 'request');
  });
  try {
    if (missingHost(req)) {
      sendOciError(res, 400, 'UNSUPPORTED', 'an HTTP/1.1 request needs a Host header');
      return;
    }
    // Before routing: write methods get 405 on every path, push endpoints like blobs/uploads/ included.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendOciError(
        res,
        405,
        'UNSUPPORTED',
        `${req.method} is not supported: this registry mirror is read-only`,
        {
          allow: 'GET, HEAD',
        },
      );
      return;
    }
    const parsed = parseRequestUrl(req.url ?? '/', (name) => ctx.upstreams.isConfigured(name));
    if (!parsed) {
      sendOciError(res, 404, 'NAME_UNKNOWN', 'no such API route');
      return;
    }
    routeName = parsed.route.kind;
    cache = await dispatch(ctx, req, res, parsed.route, parsed.registry, parsed.query);
  } catch (error) {
    if (error instanceof OciError) {
      sendOciError(res, statusOf(error.code), error.code, error.message);
    } else if (error instanceof UpstreamUnavailableError) {
      sendOciError(res, 503, 'UNAVAILABLE', `upstream registry unavailable: ${error.message}`);
    } else {
      ctx.logger.error({ err: error, url: req.url }, 'request failed');
      sendOciError(res, 500, 'UNKNOWN', 'internal error');
    }
  }
}

async function dispatch(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  registry: string | undefined,
  query: string,
): Promise<string> {
  if (route.kind === 'base') {
    // Upstream's challenge, so that clients which authenticate only after one here (skopeo, Docker) do.
    const challenge = req.headers.authorization ? undefined : await pingChallenge(ctx, registry);
    if (challenge) {
      sendRefusal(res, challenge);
      return 'none';
    }
    res.writeHead(200, { ...API_VERSION_HEADER, 'content-type': 'application/json', 'content-length': 2 });
    res.end(req.method === 'HEAD' ? undefined : '{}');
    return 'none';
  }
  // The registry the client named, never another: a request naming none gets the default, if there is one.
  const upstream = ctx.upstreams.resolve(registry);
  switch (route.kind) {
    case 'manifest':
      ctx.pulls.manifest(
        `${upstream.registry}/${route.name}`,
        'tag' in route.reference ? route.reference.tag : route.reference.digest,
      );
      return handleManifest(ctx, req, res, upstream, route.name, route.reference);
    case 'blob':
      return handleBlob(ctx, req, res, upstream, route.name, route.digest);
    case 'tags':
      await handleTags(ctx, req, res, upstream, route.name, query);
      return 'none';
    case 'referrers':
      await handleReferrers(ctx, req, res, upstream, route, query);
      return 'none';
  }
}

async function pingChallenge(
  ctx: EndpointContext,
  registry: string | undefined,
): Promise<Refusal | undefined> {
  let upstream: Upstream;
  try {
    upstream = ctx.upstreams.resolve(registry);
  } catch {
    return undefined;
  }
  return ctx.access.registryChallenge(upstream);
}
