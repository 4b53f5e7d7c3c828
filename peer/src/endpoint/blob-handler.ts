import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Digest, Upstream } from '@shoal/oci';
import { CannotCacheError, WritesRefusedError } from '../store/errors.ts';
import { UpstreamStatusError } from '../task/errors.ts';
import { admit } from './access-guard.ts';
import { type BodySource, fileSource, sendBody } from './body-io.ts';
import { answerColdRange } from './cold-range.ts';
import { type EndpointContext, relayedRequestHeaders, relayedResponseHeaders } from './context.ts';
import {
  blockCheckedBody,
  CachedBlobMismatchError,
  digestCheckedBody,
  fileCheckedBody,
  rangeBlockCheckedBody,
} from './digest-checked-body.ts';
import type { CacheResult } from './manifest-handler.ts';
import { API_VERSION_HEADER, sendOciError } from './oci-response.ts';
import { originSource } from './origin-source.ts';
import { passThrough } from './pass-through.ts';
import { boundedRange, parseRange } from './range.ts';

/** The longest range whose pieces are fetched ahead of a running download. */
const FETCH_FIRST_MAX_BYTES = 64 * 1024 * 1024;

/** A cached blob this big is hashed on the file hasher's worker as it is served; a smaller one inline. */
const HASH_OFF_THREAD_BYTES = 4 * 1024 * 1024;

/** An uncached HEAD waits this long for upstream's answer. */
const HEAD_TIMEOUT_MS = 30_000;

/**
 * GET/HEAD /v2/<name>/blobs/<digest>: a complete local blob streams from disk;
 * otherwise the client joins the node's download task for the digest and gets
 * bytes as pieces land. Range is honoured in both cases.
 */
export async function handleBlob(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  name: string,
  digest: Digest,
): Promise<CacheResult> {
  const started = performance.now();
  const firstByte = (cache: 'hit' | 'miss') => {
    let seen = false;
    return (bytes: number) => {
      if (!seen) {
        seen = true;
        ctx.metrics.timeToFirstByte.observe({ cache }, (performance.now() - started) / 1000);
      }
      ctx.metrics.servedBytes.inc({ cache }, bytes);
    };
  };
  const image = `${upstream.registry}/${name}`;
  const authorization = relayedRequestHeaders(req.headers).authorization;
  const startDownload = (probed: number | undefined) => {
    const origin = originSource(ctx.client, upstream, name, digest, authorization, {
      expected: ctx.descriptorSizes.expected(digest),
      probed,
    });
    const task = ctx.tasks.join(digest, origin, ctx.logger);
    if (req.method === 'GET')
      ctx.pulls.blob(image, digest, { download: task.sources, size: () => task.layout?.size });
    return task;
  };
  // A lazy puller's read of a blob this node has not started on: one round trip to upstream answers it.
  const coldRange =
    req.method === 'GET' &&
    !ctx.store.has(digest) &&
    !ctx.tasks.get(digest) &&
    !ctx.digestFailures.has(digest)
      ? boundedRange(req.headers.range, FETCH_FIRST_MAX_BYTES)
      : undefined;
  if (coldRange) {
    const ref = { upstream, repository: name, digest };
    const answered = await answerColdRange(ctx, req, res, ref, coldRange, firstByte('miss'));
    if (answered) {
      startDownload(answered.size);
      return 'miss';
    }
  }
  // Cached bytes, a download another client started and peers all bypass upstream's own access check:
  // the digest is served under this repository only once upstream confirmed the pairing for this client.
  const admitted = await admit(ctx.access, req, res, { upstream, repository: name, digest, kind: 'blob' });
  if (!admitted) return 'none';
  const serveCached = async (): Promise<boolean> => {
    const pin = await ctx.store.pinChecked(digest);
    if (!pin) return false;
    if (req.method === 'GET') ctx.pulls.blob(image, digest, { cached: pin.size });
    try {
      const range = sendBlobHeaders(res, digest, pin.size, req.headers.range);
      if (range && req.method === 'GET') {
        const length = range.end - range.start + 1;
        const checkBlocks = (await ctx.store.record(digest))?.checkBlocks;
        const body = cachedBody(ctx, digest, pin, { start: range.start, end: range.end + 1 }, checkBlocks);
        const sent = await sendBody(res, body, length, ctx.sending, firstByte('hit')).catch(
          cachedBlobMismatch(ctx, digest),
        );
        if (sent && length === pin.size && !checkBlocks) ctx.store.markVerified(digest);
      } else res.end();
    } finally {
      pin.release();
    }
    return true;
  };
  if (await serveCached()) return 'hit';
  if (req.method === 'HEAD' && !ctx.tasks.get(digest)) {
    const origin = originSource(ctx.client, upstream, name, digest, authorization, {
      expected: ctx.descriptorSizes.expected(digest),
      probed: admitted.size,
    });
    // Existence check only: ask upstream without starting a download.
    let size: number;
    try {
      size = await origin.probeSize(AbortSignal.timeout(HEAD_TIMEOUT_MS));
    } catch (error) {
      relayTaskError(res, error as Error);
      return 'miss';
    }
    sendBlobHeaders(res, digest, size, undefined);
    res.end();
    return 'miss';
  }
  const task = startDownload(admitted.size);
  let size: number;
  try {
    size = (await task.sized).size;
  } catch (error) {
    if (error instanceof CannotCacheError || (error as NodeJS.ErrnoException).code === 'ENOSPC') {
      // A data directory that refuses writes was logged once by the store, not once per blob.
      ctx.logger[error instanceof WritesRefusedError ? 'debug' : 'warn'](
        { digest, reason: (error as Error).message },
        'blob cannot be cached; streaming it through',
      );
      await passThrough(ctx, res, upstream, name, digest, authorization, firstByte('miss'));
      return 'miss';
    }
    relayTaskError(res, error as Error);
    return 'miss';
  }
  if (req.headers.range !== undefined && ctx.digestFailures.has(digest)) {
    // This blob failed its digest lately: no byte of it goes out before the whole is verified again.
    try {
      await task.finished;
    } catch (error) {
      relayTaskError(res, error as Error);
      return 'miss';
    }
    if (await serveCached()) return 'miss';
    sendOciError(
      res,
      502,
      'UPSTREAM_ERROR',
      'the blob was verified but could not be kept to serve a range of it',
    );
    return 'miss';
  }
  const range = sendBlobHeaders(res, digest, size, req.headers.range);
  if (!range || req.method === 'HEAD') {
    res.end();
    return 'miss';
  }
  const length = range.end - range.start + 1;
  if (res.statusCode === 206) {
    // A range ahead of the whole blob's verification carries the trust of the origin's own Range answer.
    ctx.metrics.rangeBytesBeforeVerification.inc(length);
    // A bounded range (a lazy puller's read) has its pieces fetched first rather than in the download's
    // order. One that runs to the blob's end (a client resuming a cut-off download) is what the download
    // itself fetches next: fetching it ahead would bring those bytes from the origin twice.
    if (range.end + 1 < size && length <= FETCH_FIRST_MAX_BYTES) {
      void ctx.tasks.fetchFirst(task, range.start, range.end + 1);
    }
  }
  await sendBody(res, task.reader(range.start, range.end + 1), length, ctx.sending, firstByte('miss')).catch(
    (error: Error) => {
      ctx.logger.warn({ digest, err: { message: error.message } }, 'blob response cut off');
    },
  );
  return 'miss';
}

/**
 * The bytes [start, end) of a cached blob, checked on the way against the check blocks recorded with
 * its digest (a range reads and checks whole blocks, in a buffer of the send pool); a whole blob
 * recorded without them, against the digest itself. A range of such a blob has only its file's size
 * checked, until the scrub records its blocks.
 */
function cachedBody(
  ctx: EndpointContext,
  digest: Digest,
  pin: { path: string; size: number },
  range: { start: number; end: number },
  checkBlocks: Uint32Array | undefined,
): BodySource {
  const file = (offset: number) => fileSource(pin.path, offset);
  if (range.end - range.start !== pin.size) {
    return checkBlocks
      ? rangeBlockCheckedBody(file, digest, pin.size, checkBlocks, range, ctx.sending.pool)
      : file(range.start);
  }
  if (checkBlocks) return blockCheckedBody(file(0), digest, pin.size, checkBlocks);
  return pin.size >= HASH_OFF_THREAD_BYTES
    ? fileCheckedBody(file(0), digest, pin.size, (options) =>
        ctx.fileHasher.start(pin.path, pin.size, options),
      )
    : digestCheckedBody(file(0), digest, pin.size);
}

/** A cached blob failed its digest while served (the response is already cut off): it is evicted. */
function cachedBlobMismatch(ctx: EndpointContext, digest: Digest): (error: Error) => Promise<false> {
  return async (error) => {
    if (!(error instanceof CachedBlobMismatchError)) throw error;
    await ctx.store.discardCorrupt(digest, 'serve', error.message);
    return false;
  };
}

/** Writes status and headers for a blob; returns the inclusive range to send, or undefined if none. */
function sendBlobHeaders(
  res: ServerResponse,
  digest: Digest,
  size: number,
  rangeHeader: string | undefined,
): { start: number; end: number } | undefined {
  const common = {
    ...API_VERSION_HEADER,
    'docker-content-digest': digest,
    'accept-ranges': 'bytes',
    etag: `"${digest}"`,
  };
  const range = parseRange(rangeHeader, size);
  switch (range.kind) {
    case 'malformed':
      sendOciError(res, 400, 'RANGE_INVALID', range.reason);
      return undefined;
    case 'unsatisfiable':
      sendOciError(res, 416, 'RANGE_INVALID', `range not satisfiable for a blob of ${size} bytes`, {
        'content-range': `bytes */${size}`,
      });
      return undefined;
    case 'partial':
      res.writeHead(206, {
        ...common,
        'content-type': 'application/octet-stream',
        'content-length': range.range.end - range.range.start + 1,
        'content-range': `bytes ${range.range.start}-${range.range.end}/${size}`,
      });
      return range.range;
    default:
      res.writeHead(200, { ...common, 'content-type': 'application/octet-stream', 'content-length': size });
      return size === 0 ? undefined : { start: 0, end: size - 1 };
  }
}

function relayTaskError(res: ServerResponse, error: Error): void {
  if (error instanceof UpstreamStatusError) {
    res.writeHead(error.status, {
      ...API_VERSION_HEADER,
      ...relayedResponseHeaders(error.headers),
      'content-length': error.body.length,
    });
    res.end(res.req.method === 'HEAD' ? undefined : error.body);
    return;
  }
  sendOciError(res, 502, 'UPSTREAM_ERROR', `could not fetch blob: ${publicMessage(error)}`);
}

/** An error's message fit for a client: a local I/O error names no file path, only its code. */
function publicMessage(error: Error): string {
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (typeof syscall === 'string' || (typeof code === 'string' && /^E[A-Z]+$/.test(code))) {
    return `this node's storage failed (${code ?? syscall})`;
  }
  return error.message;
}
