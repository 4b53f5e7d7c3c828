import { type Digest, isTag, OciError, parseDigest, validateRepository } from '@shoal/oci';

export type Route =
  | { kind: 'base' }
  | { kind: 'manifest'; name: string; reference: { tag: string } | { digest: Digest } }
  | { kind: 'blob'; name: string; digest: Digest }
  | { kind: 'tags'; name: string };

export interface ParsedRequest {
  route: Route;
  /** `ns` query parameter: the registry containerd wants, when it acts as a mirror client. */
  ns: string | undefined;
  /** Raw query string without `ns`, for pass-through (tags/list pagination). */
  query: string;
}

const ROUTE = /^\/v2\/(.+)\/(manifests|blobs|tags)\/([^/]+)$/;
const MAX_URL_LENGTH = 4096;

/**
 * Parses a distribution API URL. Pure; throws OciError (a 4xx for the client)
 * for anything malformed, or returns undefined when the path is not an API route.
 */
export function parseRequestUrl(url: string): ParsedRequest | undefined {
  if (url.length > MAX_URL_LENGTH) throw new OciError('NAME_INVALID', 'request URL is too long');
  const questionMark = url.indexOf('?');
  const rawPath = questionMark >= 0 ? url.slice(0, questionMark) : url;
  const params = new URLSearchParams(questionMark >= 0 ? url.slice(questionMark + 1) : '');
  const ns = params.get('ns') ?? undefined;
  params.delete('ns');
  const query = params.toString();
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new OciError('NAME_INVALID', 'request path is not valid percent-encoding');
  }
  if (path === '/v2' || path === '/v2/') return { route: { kind: 'base' }, ns, query };
  const match = ROUTE.exec(path);
  if (!match) return undefined;
  const [, rawName, kind, last] = match as unknown as [string, string, string, string];
  const name = validateRepository(rawName);
  switch (kind) {
    case 'manifests':
      if (last.includes(':'))
        return { route: { kind: 'manifest', name, reference: { digest: parseDigest(last) } }, ns, query };
      if (!isTag(last)) throw new OciError('TAG_INVALID', `invalid tag "${last.slice(0, 80)}"`);
      return { route: { kind: 'manifest', name, reference: { tag: last } }, ns, query };
    case 'blobs':
      if (last === 'uploads') throw new OciError('UNSUPPORTED', 'this registry mirror is read-only');
      return { route: { kind: 'blob', name, digest: parseDigest(last) }, ns, query };
    default:
      if (last !== 'list') return undefined;
      return { route: { kind: 'tags', name }, ns, query };
  }
}
