import { randomUUID } from 'node:crypto';

/** Header carrying a request's id, in the request (a proxy's or client's) and in every response. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Longest incoming id kept; a longer one is replaced. */
export const MAX_REQUEST_ID_LENGTH = 128;

/** Characters of ids from load balancers, tracing proxies and UUIDs; nothing that could break a header or a log. */
const SANE_ID = /^[A-Za-z0-9._:@/+=-]+$/;

/**
 * The id of one request: the client's or proxy's own `X-Request-Id` when it is
 * sane (one value, at most MAX_REQUEST_ID_LENGTH of a plain character set),
 * else a fresh UUID. `generate` is there for tests.
 */
export function requestIdFor(
  header: string | string[] | undefined,
  generate: () => string = randomUUID,
): string {
  if (typeof header === 'string' && header.length <= MAX_REQUEST_ID_LENGTH && SANE_ID.test(header)) {
    return header;
  }
  return generate();
}
