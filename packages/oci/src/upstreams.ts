import { OciError } from './errors.ts';
import { DOCKER_HUB, normalizeRegistry } from './reference.ts';
import type { Upstream } from './registry-client.ts';

export interface UpstreamConfig {
  /** registry name -> base URL, e.g. { "localhost:5000": "http://127.0.0.1:5000" } */
  endpoints: Record<string, string>;
  /** Registry used when a request carries no `ns` (Docker `registry-mirrors`, skopeo). */
  defaultRegistry: string;
}

/** Maps the registry a client asked for (`ns`, else the default) to where its API lives. */
export class UpstreamResolver {
  readonly #endpoints = new Map<string, string>();
  readonly #defaultRegistry: string;

  constructor(config: UpstreamConfig) {
    for (const [name, url] of Object.entries(config.endpoints)) {
      this.#endpoints.set(normalizeRegistry(name), url.replace(/\/+$/, ''));
    }
    this.#defaultRegistry = normalizeRegistry(config.defaultRegistry);
  }

  resolve(ns: string | undefined): Upstream {
    let registry: string;
    try {
      registry = ns === undefined || ns === '' ? this.#defaultRegistry : normalizeRegistry(ns);
    } catch {
      throw new OciError(
        'NAME_INVALID',
        `invalid ns "${String(ns).slice(0, 80)}": expected a registry host[:port]`,
      );
    }
    const url =
      this.#endpoints.get(registry) ??
      (registry === DOCKER_HUB ? 'https://registry-1.docker.io' : `https://${registry}`);
    return { registry, url };
  }
}
