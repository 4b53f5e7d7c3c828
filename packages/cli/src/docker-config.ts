import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Credentials, credentialsFor, loadDockerConfig } from '@shoal/oci';

/** Upstream credentials from a docker config.json: the given file, else Docker's default one if it exists. */
export async function upstreamCredentials(
  path: string | undefined,
): Promise<((registry: string) => Credentials | undefined) | undefined> {
  const file = path ?? defaultDockerConfigPath();
  if (!file) return undefined;
  const config = await loadDockerConfig(file);
  return (registry) => credentialsFor(config, registry);
}

/** --docker-config's default as --help shows it: decided when credentials are loaded (defaultDockerConfigPath). */
export const DOCKER_CONFIG_DEFAULT_TEXT = '$DOCKER_CONFIG/config.json or ~/.docker/config.json';

function defaultDockerConfigPath(): string | undefined {
  const path = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  return existsSync(path) ? path : undefined;
}
