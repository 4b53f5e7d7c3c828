import type { Digest, RegistryClient, Upstream, UpstreamResponse } from '@shoal/oci';
import { SizeMismatchError, UnusableAnswerError, UpstreamStatusError } from '../task/errors.ts';
import type { OriginResponse, OriginSource } from '../task/origin-download.ts';
import { discardBody, readForRelay } from './body-io.ts';

/** The origin as a task source: ranged GETs through the upstream client, with the first client's credentials. */
export function originSource(
  client: RegistryClient,
  upstream: Upstream,
  name: string,
  digest: Digest,
  authorization: string | undefined,
  sizes: {
    /** The size the manifest that named this blob gives it, when one did. */
    expected?: number | undefined;
    /** The size upstream gave for this client a moment ago (the access check's probe): the first probe is not asked again. */
    probed?: number | undefined;
  } = {},
): OriginSource {
  const checkedSize = (size: number) => checkSize(digest, size, sizes.expected);
  let probed = sizes.probed;
  const known = sizes.probed;
  return {
    knownSize: () => (known === undefined ? undefined : checkedSize(known)),
    async probeSize(signal: AbortSignal): Promise<number> {
      if (probed !== undefined) {
        const size = probed;
        probed = undefined;
        return checkedSize(size);
      }
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
          throw new UnusableAnswerError('upstream did not tell the blob size');
        }
        return checkedSize(size);
      }
      throw await answerError(response);
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
          throw new UnusableAnswerError('upstream blob response has no valid Content-Length');
        }
        try {
          checkedSize(size);
        } catch (error) {
          cancel();
          throw error;
        }
        return { size, start: 0, body: response.body, cancel };
      }
      if (response.status === 206) {
        const size = totalFromContentRange(response.headers['content-range']);
        const first = Number(/^bytes (\d+)-/.exec(response.headers['content-range'] ?? '')?.[1]);
        if (size === undefined || first !== start) {
          cancel();
          throw new UnusableAnswerError(
            'upstream sent an unusable Content-Range (no size, or another start)',
          );
        }
        try {
          checkedSize(size);
        } catch (error) {
          cancel();
          throw error;
        }
        return { size, start, body: response.body, cancel };
      }
      throw await answerError(response);
    },
  };
}

/** sha256 of no bytes: the one digest whose blob may be empty. */
const EMPTY_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * An empty body is never the content of another digest, and a size other than its manifest's is a lie:
 * upstream's size is refused before any header goes out or any byte is written.
 */
export function checkSize(digest: Digest, size: number, expected: number | undefined): number {
  if (size === 0 && digest !== EMPTY_DIGEST) {
    throw new UnusableAnswerError(`upstream says blob ${digest} is empty, which it cannot be`);
  }
  if (expected !== undefined && size !== expected) throw new SizeMismatchError(digest, size, expected);
  return size;
}

/**
 * A client error of upstream's (401 with its challenge, 404, 429) is relayed as upstream gave it;
 * any other status (5xx, an unexpected 2xx or 3xx, a status outside HTTP's range) is upstream's failure.
 */
async function answerError(response: UpstreamResponse): Promise<Error> {
  if (response.status >= 400 && response.status <= 499) {
    return new UpstreamStatusError(response.status, response.headers, await readForRelay(response.body));
  }
  discardBody(response.body);
  return new Error(`upstream answered HTTP ${response.status}`);
}

/** Total size from `Content-Range: bytes a-b/total`. */
export function totalFromContentRange(value: string | undefined): number | undefined {
  const match = /^bytes (?:\d+-\d+|\*)\/(\d+)$/.exec(value ?? '');
  return match ? Number(match[1]) : undefined;
}
