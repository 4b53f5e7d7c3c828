import type { Digest, RegistryClient, Upstream } from '@shoal/oci';
import { UpstreamStatusError } from '../task/errors.ts';
import type { OriginResponse, OriginSource } from '../task/origin-download.ts';
import { discardBody, readForRelay } from './body-io.ts';

/** The origin as a task source: ranged GETs through the upstream client, with the first client's credentials. */
export function originSource(
  client: RegistryClient,
  upstream: Upstream,
  name: string,
  digest: Digest,
  authorization: string | undefined,
): OriginSource {
  return {
    async probeSize(signal: AbortSignal): Promise<number> {
      // One byte tells the size and, with the client's credentials, that upstream lets it read the blob.
      const response = await client.getBlob(upstream, name, digest, {
        ...(authorization ? { authorization } : {}),
        range: { start: 0, end: 0 },
        signal,
      });
      if (response.status === 206 || response.status === 200) {
        discardBody(response.body);
        const size =
          response.status === 206
            ? totalFromContentRange(response.headers['content-range'])
            : Number(response.headers['content-length']);
        if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
          throw new Error('upstream did not tell the blob size');
        }
        return size;
      }
      throw new UpstreamStatusError(response.status, response.headers, await readForRelay(response.body));
    },
    async open(start: number, signal: AbortSignal, end?: number): Promise<OriginResponse> {
      const response = await client.getBlob(upstream, name, digest, {
        ...(authorization ? { authorization } : {}),
        ...(start > 0 || end !== undefined ? { range: end === undefined ? { start } : { start, end } } : {}),
        signal,
      });
      const cancel = () => discardBody(response.body);
      if (response.status === 200) {
        const size = Number(response.headers['content-length']);
        if (!Number.isSafeInteger(size) || size < 0) {
          cancel();
          throw new Error('upstream blob response has no valid Content-Length');
        }
        return { size, start: 0, body: response.body, cancel };
      }
      if (response.status === 206) {
        const size = totalFromContentRange(response.headers['content-range']);
        const first = Number(/^bytes (\d+)-/.exec(response.headers['content-range'] ?? '')?.[1]);
        if (size === undefined || first !== start) {
          cancel();
          throw new Error('upstream sent an unusable Content-Range');
        }
        return { size, start, body: response.body, cancel };
      }
      throw new UpstreamStatusError(response.status, response.headers, await readForRelay(response.body));
    },
  };
}

/** Total size from `Content-Range: bytes a-b/total`. */
export function totalFromContentRange(value: string | undefined): number | undefined {
  const match = /^bytes (?:\d+-\d+|\*)\/(\d+)$/.exec(value ?? '');
  return match ? Number(match[1]) : undefined;
}
