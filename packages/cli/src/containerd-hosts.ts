import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DOCKER_HUB, normalizeRegistry } from '@shoal/oci';

/** First line of every hosts.toml this command writes; files without it belong to someone else. */
export const MANAGED_MARKER = '# Managed by shoal containerd-config.';
export const BACKUP_SUFFIX = '.shoal-backup';

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

export type HostsAction =
  /** a new file, no previous one */
  | 'written'
  /** a file of someone else's was replaced and kept as the backup */
  | 'replaced'
  /** a file written earlier by this command was rewritten */
  | 'updated'
  /** the file already had this content */
  | 'unchanged'
  /** --remove: the backup was put back */
  | 'restored'
  /** --remove: the file was deleted (there was nothing before it) */
  | 'removed'
  /** --remove: nothing to do */
  | 'absent'
  /** --remove: the file is not one of ours; left alone */
  | 'foreign';

export interface HostsChange {
  registry: string;
  file: string;
  action: HostsAction;
  backup?: string;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isManaged(text: string): boolean {
  return text.startsWith(MANAGED_MARKER);
}

/** Writes `path` atomically: a temporary file in the same directory, flushed, then renamed over it. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  }
}

/**
 * Points containerd at the peer for one registry. A hosts.toml that this command did not write is kept
 * as hosts.toml.shoal-backup first, so that `removeHostsToml` can put it back.
 */
export async function installHostsToml(spec: HostsTomlSpec): Promise<HostsChange> {
  const registry = normalizeRegistry(spec.registry);
  const file = hostsTomlPath(spec.dir, registry);
  const backup = `${file}${BACKUP_SUFFIX}`;
  const text = renderHostsToml({ ...spec, registry });
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const current = await readIfExists(file);
  if (current === text) return { registry, file, action: 'unchanged' };
  if (current !== undefined && !isManaged(current)) {
    // Copy, not rename: containerd keeps seeing a complete file until the atomic replace below.
    const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.backup.tmp`);
    await copyFile(file, tmp);
    await rename(tmp, backup);
    await writeFileAtomic(file, text);
    return { registry, file, action: 'replaced', backup };
  }
  await writeFileAtomic(file, text);
  return { registry, file, action: current === undefined ? 'written' : 'updated' };
}

/** Undoes `installHostsToml`: restores the backup, else deletes the file (and its directory when empty). */
export async function removeHostsToml(dir: string, registryName: string): Promise<HostsChange> {
  const registry = normalizeRegistry(registryName);
  const file = hostsTomlPath(dir, registry);
  const backup = `${file}${BACKUP_SUFFIX}`;
  const current = await readIfExists(file);
  if (current !== undefined && !isManaged(current)) return { registry, file, action: 'foreign' };
  if ((await readIfExists(backup)) !== undefined) {
    await rename(backup, file);
    await syncDir(dirname(file));
    return { registry, file, action: 'restored', backup };
  }
  if (current === undefined) return { registry, file, action: 'absent' };
  await rm(file, { force: true });
  try {
    await rmdir(dirname(file));
  } catch {
    // Not empty (certificates or other files live there): keep it.
  }
  return { registry, file, action: 'removed' };
}

/** One line for the user per change. */
export function describeChange(change: HostsChange): string {
  const { registry, file, backup } = change;
  switch (change.action) {
    case 'written':
      return `${registry}: wrote ${file}`;
    case 'replaced':
      return `${registry}: wrote ${file} (the previous file is kept as ${backup})`;
    case 'updated':
      return `${registry}: updated ${file}`;
    case 'unchanged':
      return `${registry}: ${file} is up to date`;
    case 'restored':
      return `${registry}: restored ${file} from ${backup}`;
    case 'removed':
      return `${registry}: removed ${file}`;
    case 'absent':
      return `${registry}: nothing to remove at ${file}`;
    case 'foreign':
      return `${registry}: left ${file} alone: it was not written by shoal containerd-config`;
  }
}
