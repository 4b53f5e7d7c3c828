import {
  classifyTransportError,
  DEFAULT_USER_AGENT,
  type RegistryClient,
  statusFailure,
  type UpstreamResponse,
  UpstreamUnavailableError,
} from '@shoal/oci';
import type { AccessProbe, ProbeOutcome, RegistryOutcome } from './access-guard.ts';
import { discardBody, readForRelay } from './body-io.ts';
import { relayedResponseHeaders } from './context.ts';
import { ociErrorBody } from './oci-response.ts';
import { totalFromContentRange } from './origin-source.ts';

export interface UpstreamAccessProbeOptions {
  /** Longest wait for one repository probe, retries included; past it upstream counts as unreachable. */
  timeoutMs?: number;
  /** Longest wait for the registry probe (a client's `/v2/` ping waits for it). */
  registryTimeoutMs?: number;
}

/**
 * Probes upstream for one digest under one repository, with exactly the access a pull needs: a blob
 * by `GET` of its first byte, a manifest by `HEAD`. Anonymously through the registry client (which
 * fetches an anonymous token where the registry wants one, or uses the node's own configured
 * credentials), or with the client's Authorization header relayed as is. The registry probe is a plain
 * `GET /v2/` without any credentials.
 */
export function upstreamAccessProbe(
  client: RegistryClient,
  options: UpstreamAccessProbeOptions = {},
): AccessProbe {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const registryTimeoutMs = options.registryTimeoutMs ?? 5_000;
  return {
    async content(ref, authorization): Promise<ProbeOutcome> {
      const request = {
        ...(authorization ? { authorization } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      };
      let response: UpstreamResponse;
      try {
        response =
          ref.kind === 'blob'
            ? await client.getBlob(ref.upstream, ref.repository, ref.digest, {
                ...request,
                range: { start: 0, end: 0 },
              })
            : await client.headManifest(ref.upstream, ref.repository, ref.digest, request);
      } catch (error) {
        const reason = unreachableReason(error, timeoutMs);
        if (reason !== undefined) return { kind: 'unreachable', reason };
        throw error;
      }
      const { status } = response;
      if (status === 401 || status === 403) {
        const body = await readForRelay(response.body);
        const headers = relayedResponseHeaders(response.headers);
        if (body.length > 0) return { kind: 'refused', refusal: { status, headers, body } };
        // A HEAD refusal has no body; clients expect an OCI error beside the challenge.
        const code = status === 401 ? 'UNAUTHORIZED' : 'DENIED';
        return {
          kind: 'refused',
          refusal: {
            status,
            headers: { ...headers, 'content-type': 'application/json' },
            body: Buffer.from(ociErrorBody(code, 'access to the repository refused')),
          },
        };
      }
      // 416: the range of an empty blob; the blob is there.
      if ((status >= 200 && status <= 299) || status === 416 || status === 429 || status >= 500) {
        discardBody(response.body);
        if (status === 429 || status >= 500) {
          return { kind: 'unreachable', reason: statusFailure(status).detail };
        }
        // The answer to a blob's first byte tells its size: a download can start without asking again.
        const size = ref.kind === 'blob' ? sizeOf(response) : undefined;
        return size === undefined ? { kind: 'readable' } : { kind: 'readable', size };
      }
      // Upstream's own answer (404 BLOB_UNKNOWN, NAME_UNKNOWN...) is relayed when it has a body.
      const body = await readForRelay(response.body);
      if (body.length === 0) return { kind: 'absent' };
      return { kind: 'absent', refusal: { status, headers: relayedResponseHeaders(response.headers), body } };
    },

    async registry(upstream): Promise<RegistryOutcome> {
      let response: Response;
      try {
        response = await fetch(`${upstream.url.replace(/\/+$/, '')}/v2/`, {
          headers: { 'user-agent': DEFAULT_USER_AGENT },
          redirect: 'manual',
          signal: AbortSignal.timeout(registryTimeoutMs),
        });
        await response.body?.cancel();
      } catch (error) {
        return { kind: 'unreachable', reason: classifyTransportError(error).detail };
      }
      const { status } = response;
      if (status === 200) return { kind: 'open' };
      if (status === 429 || status >= 500) {
        return { kind: 'unreachable', reason: statusFailure(status).detail };
      }
      const challenge = response.headers.get('www-authenticate');
      if (status !== 401 || challenge === null) return { kind: 'closed' };
      const body = Buffer.from(ociErrorBody('UNAUTHORIZED', 'authentication required'));
      return {
        kind: 'closed',
        challenge: {
          status,
          headers: { 'www-authenticate': challenge, 'content-type': 'application/json' },
          body,
        },
      };
    },
  };
}

/** Why upstream could not answer, when `error` says it could not; undefined for errors of another kind. */
export function unreachableReason(error: unknown, timeoutMs: number): string | undefined {
  if (error instanceof UpstreamUnavailableError) return error.message;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  return undefined;
}

/** A blob's size from the answer to its first byte: a Content-Range total, or a whole body's length. */
function sizeOf(response: UpstreamResponse): number | undefined {
  const size =
    response.status === 206
      ? totalFromContentRange(response.headers['content-range'])
      : response.status === 200
        ? Number(response.headers['content-length'])
        : undefined;
  return size !== undefined && Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}
