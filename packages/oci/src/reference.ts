import { type Digest, parseDigest } from './digest.ts';
import { OciError } from './errors.ts';

/** Repository path component grammar of the distribution spec. */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** DNS labels of at most 63 characters (RFC 1035), or a bracketed IPv6 address; an optional port. */
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:.]+\](?::[0-9]{1,5})?$/;
const MAX_HOST_LENGTH = 253;
const MAX_NAME_LENGTH = 255;

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

export function validateRepository(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !REPOSITORY.test(name)) {
    throw new OciError('NAME_INVALID', `invalid repository name "${truncate(name)}"`);
  }
  return name;
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}

export function validateTag(tag: string): string {
  if (!TAG.test(tag)) throw new OciError('TAG_INVALID', `invalid tag "${truncate(tag)}"`);
  return tag;
}

/** Canonical registry name: Docker Hub aliases collapse to docker.io, hosts are lowercased. */
export function normalizeRegistry(registry: string): string {
  const lower = registry.toLowerCase();
  const port = /:(\d+)$/.exec(registry)?.[1];
  const host = port === undefined ? registry : registry.slice(0, -port.length - 1);
  if (
    !DOMAIN.test(registry) ||
    host.length > MAX_HOST_LENGTH ||
    (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
  ) {
    throw new OciError('NAME_INVALID', `invalid registry "${truncate(registry)}"`);
  }
  if (!isCanonicalUrlHost(host.toLowerCase())) {
    throw new OciError('NAME_INVALID', `invalid registry "${truncate(registry)}": not a usable URL host`);
  }
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/**
 * The registry's URL is built from its name, so the host must survive URL
 * parsing unchanged: `a.0` (a failed IPv4 address) is no URL host at all, and
 * `1.2.3` or `[0::1]` would silently address another spelling.
 */
function isCanonicalUrlHost(host: string): boolean {
  try {
    return new URL(`https://${host}`).hostname === host;
  } catch {
    return false;
  }
}

/**
 * Docker's rule for the first component of an image name: a registry when it has a dot, a port or is
 * localhost (no Docker Hub namespace has either), else the start of a Docker Hub repository.
 */
export function looksLikeRegistryHost(component: string): boolean {
  return (
    component.includes('.') ||
    component.includes(':') ||
    component === 'localhost' ||
    component.startsWith('[')
  );
}

export interface ImageReference {
  /** Canonical registry host[:port], docker.io for Docker Hub. */
  registry: string;
  /** Repository path, with `library/` for official Docker Hub images. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

/**
 * Parses `[registry/]repository[:tag][@digest]` with Docker's normalisation:
 * the first component is a registry when it has a dot, a port or is localhost;
 * single-component Docker Hub names get `library/`; no tag and no digest means `latest`.
 */
export function parseReference(input: string): ImageReference {
  if (input.length === 0 || input.length > 512) {
    throw new OciError('NAME_INVALID', `invalid image reference "${truncate(input)}"`);
  }
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = parseDigest(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = validateTag(rest.slice(colon + 1));
    rest = rest.slice(0, colon);
  }
  let registry = DOCKER_HUB;
  const firstSlash = rest.indexOf('/');
  if (firstSlash > 0) {
    const first = rest.slice(0, firstSlash);
    if (looksLikeRegistryHost(first)) {
      registry = normalizeRegistry(first);
      rest = rest.slice(firstSlash + 1);
    }
  }
  if (registry === DOCKER_HUB && !rest.includes('/')) rest = `library/${rest}`;
  const repository = validateRepository(rest);
  if (!tag && !digest) tag = 'latest';
  const reference: ImageReference = { registry, repository };
  if (tag) reference.tag = tag;
  if (digest) reference.digest = digest;
  return reference;
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
