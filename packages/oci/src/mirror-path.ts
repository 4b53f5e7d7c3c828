import { looksLikeRegistryHost, normalizeRegistry } from './reference.ts';

/**
 * The registry as the first path component of a mirror location (`127.0.0.1:5050/quay.io`), which
 * containers/image clients put in front of every repository they ask the mirror for. Such a path allows
 * no ':', so a port is written `host_port` (`registry.example_5000`): no host name has a '_'.
 */
export function registryPathComponent(registry: string): string {
  const name = normalizeRegistry(registry);
  if (name.startsWith('[')) {
    throw new Error(
      `${name}: an IPv6 address cannot be written in a mirror path; give the registry a host name`,
    );
  }
  return name.replace(/:(\d+)$/, '_$1');
}

const WITH_PORT = /^(.+)_(\d{1,5})$/;

/**
 * The registry a repository path's first component names, or undefined when it is the start of a
 * repository: Docker's rule (a dot, a port, localhost), `host_port` as written by
 * `registryPathComponent`, or a registry the mirror is configured for (`isConfigured`).
 */
export function registryOfPathComponent(
  component: string,
  isConfigured: (name: string) => boolean,
): string | undefined {
  const withPort = WITH_PORT.exec(component);
  if (withPort) {
    const registry = `${withPort[1]}:${withPort[2]}`;
    if (looksLikeRegistryHost(withPort[1]!) || isConfigured(registry)) return registry;
  }
  if (looksLikeRegistryHost(component) || isConfigured(component)) return component;
  return undefined;
}
