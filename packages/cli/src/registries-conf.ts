import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeRegistry, registryPathComponent } from '@shoal/oci';
import { upstreamServer } from './containerd-hosts.ts';
import { installManagedFile, type ManagedChange, removeManagedFile } from './managed-file.ts';

/** First line of the drop-in this command writes; a file without it belongs to someone else. */
export const MANAGED_MARKER = '# Managed by shoal registries-config.';
/** The drop-in's name in registries.conf.d: read after files named with digits, so its entries win. */
export const DROP_IN_NAME = 'shoal.conf';

export interface DropInSpec {
  /** Registries as written in image names, e.g. docker.io, quay.io. */
  registries: readonly string[];
  /** The peer's registry endpoint, e.g. http://127.0.0.1:5050 (http: the mirror is marked insecure). */
  endpoint: string;
  /** registry -> its own address when not https://<name> (as `containerd-config --server`). */
  servers: Record<string, string>;
  /** registries.conf.d directory, for the undo hint in the file. */
  dir: string;
}

/** host[:port] and whether it is plain HTTP, from an http(s):// URL. */
function hostOf(url: string): { host: string; insecure: boolean } {
  const parsed = new URL(url);
  return { host: parsed.host, insecure: parsed.protocol === 'http:' };
}

/**
 * containers-registries.conf(5) drop-in: per registry, the peer as a mirror whose location carries the
 * registry (`127.0.0.1:5050/quay.io`), so the peer knows which registry each request is for.
 */
export function renderDropIn(spec: DropInSpec): string {
  const q = (s: string) => JSON.stringify(s);
  const mirror = hostOf(spec.endpoint);
  const lines = [
    MANAGED_MARKER,
    `# Pulls of these registries try the shoal peer at ${spec.endpoint} first; the registry itself`,
    '# answers when the peer is unreachable or answers an error. Each mirror location names its',
    "# registry, so the peer never answers one registry with another one's image.",
    `# Undo: shoal registries-config --remove --dir ${spec.dir}`,
  ];
  for (const name of new Set(spec.registries.map(normalizeRegistry))) {
    // docker.io keeps its name as location: containers/image knows where Docker Hub lives.
    const explicit = Object.keys(spec.servers).some((key) => normalizeRegistry(key) === name);
    const server = explicit ? hostOf(upstreamServer(name, spec.servers)) : { host: name, insecure: false };
    lines.push('', '[[registry]]', `prefix = ${q(name)}`, `location = ${q(server.host)}`);
    if (server.insecure) lines.push('insecure = true');
    lines.push(
      '',
      '[[registry.mirror]]',
      `location = ${q(`${mirror.host}/${registryPathComponent(name)}`)}`,
      `insecure = ${mirror.insecure}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function dropInPath(dir: string): string {
  return join(dir, DROP_IN_NAME);
}

/** Writes the drop-in; a file of that name not written by this command is kept as its backup. */
export async function installDropIn(spec: DropInSpec): Promise<ManagedChange> {
  const text = renderDropIn(spec);
  await mkdir(spec.dir, { recursive: true, mode: 0o755 });
  return installManagedFile(dropInPath(spec.dir), text, MANAGED_MARKER);
}

/** Undoes `installDropIn`: restores the backup, else deletes the drop-in. */
export function removeDropIn(dir: string): Promise<ManagedChange> {
  return removeManagedFile(dropInPath(dir), MANAGED_MARKER);
}
