import { OciError } from './errors.ts';
import { DOCKER_HUB, normalizeRegistry } from './reference.ts';
import type { Upstream } from './registry-client.ts';

export interface UpstreamConfig {
  /** registry name -> base URL, e.g. { "localhost:5000": "http://127.0.0.1:5000" } */
  endpoints: Record<string, string>;
  /**
   * Registry for requests that name none (Docker `registry-mirrors`, which mirror docker.io only);
   * undefined: such requests are refused rather than answered from a registry the client did not ask for.
   */
  defaultRegistry: string | undefined;
}

/** Maps the registry a client asked for (`ns`, a registry in the path, else the default) to where its API lives. */
export class UpstreamResolver {
  readonly #endpoints = new Map<string, string>();
  readonly #defaultRegistry: string | undefined;

  constructor(config: UpstreamConfig) {
    for (const [name, url] of Object.entries(config.endpoints)) {
      this.#endpoints.set(normalizeRegistry(name), url.replace(/\/+$/, ''));
    }
    this.#defaultRegistry =
      config.defaultRegistry === undefined ? undefined : normalizeRegistry(config.defaultRegistry);
  }

  /** Whether `name` is a registry given an endpoint in the configuration. */
  isConfigured(name: string): boolean {
    try {
      return this.#endpoints.has(normalizeRegistry(name));
    } catch {
      return false;
    }
  }

  /** The upstream for the registry a request named; undefined or '' when it named none. */
  resolve(requested: string | undefined): Upstream {
    let registry: string;
    if (requested === undefined || requested === '') {
      if (this.#defaultRegistry === undefined) {
        throw new OciError(
          'NAME_UNKNOWN',
          'the request names no registry and this mirror has no default registry: ' +
            'put the registry in the mirror location (127.0.0.1:5050/quay.io) or send ?ns=<registry>',
        );
      }
      registry = this.#defaultRegistry;
    } else {
      try {
        registry = normalizeRegistry(requested);
      } catch {
        throw new OciError(
          'NAME_INVALID',
          `invalid registry "${requested.slice(0, 80)}": expected a registry host[:port]`,
        );
      }
    }
    const url =
      this.#endpoints.get(registry) ??
      (registry === DOCKER_HUB ? 'https://registry-1.docker.io' : `https://${registry}`);
    return { registry, url };
  }
}
