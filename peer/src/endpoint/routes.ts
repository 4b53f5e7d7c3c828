import {
  type Digest,
  isTag,
  OciError,
  parseDigest,
  registryOfPathComponent,
  validateRepository,
} from '@shoal/oci';

export type Route =
  | { kind: 'base' }
  | { kind: 'manifest'; name: string; reference: { tag: string } | { digest: Digest } }
  | { kind: 'blob'; name: string; digest: Digest }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: Digest };

export interface ParsedRequest {
  route: Route;
  /**
   * The registry the client asked for, as it wrote it: `?ns=` (containerd), else a registry host as the
   * first path component (containers/image clients whose mirror location carries it, e.g.
   * `127.0.0.1:5050/quay.io`); undefined when the request names none.
   */
  registry: string | undefined;
  /** Raw query string without `ns`, for pass-through (tags/list pagination). */
  query: string;
}

const ROUTE = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\/([^/]+)$/;
const MAX_URL_LENGTH = 4096;

/** Whether a name is a registry the mirror is configured for (one without a dot, e.g. `registry`). */
export type RegistryTest = (name: string) => boolean;

/** Splits `quay.io/org/app` into the registry and the repository there, for a request without `ns`. */
function registryInPath(
  fullName: string,
  isConfiguredRegistry: RegistryTest,
): { registry: string | undefined; rawName: string } {
  const slash = fullName.indexOf('/');
  const registry =
    slash > 0 ? registryOfPathComponent(fullName.slice(0, slash), isConfiguredRegistry) : undefined;
  return registry === undefined
    ? { registry, rawName: fullName }
    : { registry, rawName: fullName.slice(slash + 1) };
}

/**
 * Parses a distribution API URL. Pure; throws OciError (a 4xx for the client)
 * for anything malformed, or returns undefined when the path is not an API route.
 * With `?ns=` the whole path is the repository (containerd names the registry
 * there); without, a registry host leading the path is taken as the registry.
 */
export function parseRequestUrl(
  url: string,
  isConfiguredRegistry: RegistryTest = () => false,
): ParsedRequest | undefined {
  if (url.length > MAX_URL_LENGTH) throw new OciError('NAME_INVALID', 'request URL is too long');
  const questionMark = url.indexOf('?');
  const rawPath = questionMark >= 0 ? url.slice(0, questionMark) : url;
  const params = new URLSearchParams(questionMark >= 0 ? url.slice(questionMark + 1) : '');
  const ns = params.get('ns') || undefined;
  params.delete('ns');
  const query = params.toString();
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new OciError('NAME_INVALID', 'request path is not valid percent-encoding');
  }
  if (path === '/v2' || path === '/v2/') return { route: { kind: 'base' }, registry: ns, query };
  const match = ROUTE.exec(path);
  if (!match) return undefined;
  const [, fullName, kind, last] = match as unknown as [string, string, string, string];
  const { registry, rawName } =
    ns === undefined ? registryInPath(fullName, isConfiguredRegistry) : { registry: ns, rawName: fullName };
  const name = validateRepository(rawName);
  switch (kind) {
    case 'manifests':
      if (last.includes(':'))
        return {
          route: { kind: 'manifest', name, reference: { digest: parseDigest(last) } },
          registry,
          query,
        };
      if (!isTag(last)) throw new OciError('TAG_INVALID', `invalid tag "${last.slice(0, 80)}"`);
      return { route: { kind: 'manifest', name, reference: { tag: last } }, registry, query };
    case 'blobs':
      if (last === 'uploads') throw new OciError('UNSUPPORTED', 'this registry mirror is read-only');
      return { route: { kind: 'blob', name, digest: parseDigest(last) }, registry, query };
    case 'referrers':
      return { route: { kind: 'referrers', name, digest: parseDigest(last) }, registry, query };
    default:
      if (last !== 'list') return undefined;
      return { route: { kind: 'tags', name }, registry, query };
  }
}
