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

export interface UpstreamAccessProbeOptions {
  /** Longest wait for one repository probe, retries included; past it upstream counts as unreachable. */
  timeoutMs?: number;
  /** Longest wait for the registry probe (a client's `/v2/` ping waits for it). */
  registryTimeoutMs?: number;
}

/**
 * Probes upstream with `GET /v2/<name>/tags/list?n=1`, which needs exactly pull access to the repository:
 * anonymously through the registry client (which fetches an anonymous token where the registry wants
 * one), or with the client's Authorization header relayed as is. The registry probe is a plain
 * `GET /v2/` without any credentials.
 */
export function upstreamAccessProbe(
  client: RegistryClient,
  options: UpstreamAccessProbeOptions = {},
): AccessProbe {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const registryTimeoutMs = options.registryTimeoutMs ?? 5_000;
  return {
    async repository(upstream, repository, authorization): Promise<ProbeOutcome> {
      let response: UpstreamResponse;
      try {
        response = await client.getTags(upstream, repository, 'n=1', {
          ...(authorization ? { authorization } : {}),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const reason = unreachableReason(error, timeoutMs);
        if (reason !== undefined) return { kind: 'unreachable', reason };
        throw error;
      }
      const { status } = response;
      if (status === 401 || status === 403) {
        const body = await readForRelay(response.body);
        return {
          kind: 'refused',
          refusal: { status, headers: relayedResponseHeaders(response.headers), body },
        };
      }
      discardBody(response.body);
      if (status >= 200 && status <= 299) return { kind: 'readable' };
      if (status === 429 || status >= 500)
        return { kind: 'unreachable', reason: statusFailure(status).detail };
      return { kind: 'open' };
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
      if (status === 429 || status >= 500)
        return { kind: 'unreachable', reason: statusFailure(status).detail };
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
function unreachableReason(error: unknown, timeoutMs: number): string | undefined {
  if (error instanceof UpstreamUnavailableError) return error.message;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  return undefined;
}
