import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DOCKER_HUB, normalizeRegistry } from '@shoal/oci';
import {
  describeManagedChange,
  installManagedFile,
  type ManagedAction,
  type ManagedChange,
  removeManagedFile,
} from './managed-file.ts';

/** First line of every hosts.toml this command writes; files without it belong to someone else. */
export const MANAGED_MARKER = '# Managed by shoal containerd-config.';

/** Where a registry really lives: an explicit override, else registry-1.docker.io for docker.io, else https://<name>. */
export function upstreamServer(registry: string, overrides: Record<string, string> = {}): string {
  const name = normalizeRegistry(registry);
  for (const [key, url] of Object.entries(overrides)) {
    if (normalizeRegistry(key) === name) return url.replace(/\/+$/, '');
  }
  return name === DOCKER_HUB ? 'https://registry-1.docker.io' : `https://${name}`;
}

export interface HostsTomlSpec {
  /** Registry name as clients write it in image references, e.g. docker.io or registry.example:5000. */
  registry: string;
  /** The registry's own address, the fallback. */
  server: string;
  /** The shoal peer's registry endpoint, e.g. http://127.0.0.1:5050. */
  endpoint: string;
  /** hosts directory, for the undo hint in the file. */
  dir: string;
}

/** containerd hosts.toml: the peer endpoint as a pull/resolve mirror in front of the registry's own server. */
export function renderHostsToml(spec: HostsTomlSpec): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    MANAGED_MARKER,
    `# Pulls of ${spec.registry} try the shoal peer at ${spec.endpoint} first; containerd falls back`,
    '# to the server below when the peer is unreachable or answers an error.',
    `# Undo: shoal containerd-config --remove --registry ${spec.registry} --dir ${spec.dir}`,
    `server = ${q(spec.server)}`,
    '',
    `[host.${q(spec.endpoint)}]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n');
}

export function hostsTomlPath(dir: string, registry: string): string {
  return join(dir, normalizeRegistry(registry), 'hosts.toml');
}

export type HostsAction = ManagedAction;

export interface HostsChange extends ManagedChange {
  registry: string;
}

/**
 * Points containerd at the peer for one registry. A hosts.toml that this command did not write is kept
 * as hosts.toml.shoal-backup first, so that `removeHostsToml` can put it back.
 */
export async function installHostsToml(spec: HostsTomlSpec): Promise<HostsChange> {
  const registry = normalizeRegistry(spec.registry);
  const file = hostsTomlPath(spec.dir, registry);
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const change = await installManagedFile(file, renderHostsToml({ ...spec, registry }), MANAGED_MARKER);
  return { registry, ...change };
}

/** Undoes `installHostsToml`: restores the backup, else deletes the file (and its directory when empty). */
export async function removeHostsToml(dir: string, registryName: string): Promise<HostsChange> {
  const registry = normalizeRegistry(registryName);
  const change = await removeManagedFile(hostsTomlPath(dir, registry), MANAGED_MARKER, {
    removeEmptyDir: true,
  });
  return { registry, ...change };
}

/** One line for the user per change. */
export function describeChange(change: HostsChange): string {
  return describeManagedChange(change.registry, change, 'shoal containerd-config');
}
