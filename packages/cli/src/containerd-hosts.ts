import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DOCKER_HUB, normalizeRegistry } from '@shoal/oci';
import { parse as parseToml } from 'smol-toml';
import {
  BACKUP_SUFFIX,
  describeManagedChange,
  installManagedFile,
  type ManagedAction,
  type ManagedChange,
  readIfExists,
  removeManagedFile,
} from './managed-file.ts';

/** First line of every hosts.toml this command writes; files without it belong to someone else. */
export const MANAGED_MARKER = '# Managed by shoal containerd-config.';
/** containerd's directory for every registry that has none of its own (read by containerd 1.6.20 here). */
export const ALL_REGISTRIES = '_default';

/** The directory name containerd looks up for a registry: `_default`, or the normalized host[:port]. */
export function hostsDirName(registry: string): string {
  return registry === ALL_REGISTRIES ? ALL_REGISTRIES : normalizeRegistry(registry);
}

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

const q = (s: string) => JSON.stringify(s);

function header(spec: HostsTomlSpec, merged: boolean): string[] {
  const every = spec.registry === ALL_REGISTRIES;
  return [
    MANAGED_MARKER,
    `# Pulls of ${every ? 'every registry without a directory of its own' : spec.registry} try the shoal peer at ${spec.endpoint} first;`,
    merged
      ? `# then the hosts of the file kept as hosts.toml${BACKUP_SUFFIX}, in their order, then the server.`
      : every
        ? '# containerd falls back to each registry itself when the peer is unreachable or answers an error.'
        : '# containerd falls back to the server below when the peer is unreachable or answers an error.',
    `# Undo: shoal containerd-config --remove --registry ${spec.registry} --dir ${spec.dir}`,
  ];
}

function hostTable(endpoint: string): string[] {
  return [`[host.${q(endpoint)}]`, '  capabilities = ["pull", "resolve"]'];
}

/**
 * containerd hosts.toml: the peer endpoint as a pull/resolve mirror in front of the registry's own server.
 * For `_default` there is no server: containerd falls back to whichever registry an image names.
 */
export function renderHostsToml(spec: HostsTomlSpec): string {
  const server = spec.registry === ALL_REGISTRIES ? [] : [`server = ${q(spec.server)}`];
  return [...header(spec, false), ...server, '', ...hostTable(spec.endpoint), ''].join('\n');
}

/** A host table header, `[host."url"]` (or single-quoted, or bare), with its url. */
const HOST_TABLE = /^\s*\[\s*host\s*\.\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*\]\s*(?:#.*)?$/;
const ANY_TABLE = /^\s*\[/;

function hostOfHeader(line: string): string | undefined {
  const match = HOST_TABLE.exec(line);
  if (!match) return undefined;
  const key = match[1]!;
  if (key.startsWith('"')) return JSON.parse(key) as string;
  return key.startsWith("'") ? key.slice(1, -1) : key;
}

/**
 * Someone's hosts.toml with the peer put first: their top-level settings (server, ca, …) and every host
 * table they had, after the peer's table. A table of theirs for the same endpoint gives way to the
 * peer's. The text stays theirs (comments included); the result is parsed to prove containerd will
 * read the peer first. Throws when their file is not valid TOML.
 */
export function mergeHostsToml(theirs: string, spec: HostsTomlSpec): string {
  try {
    parseToml(theirs);
  } catch (error) {
    throw new Error(
      `cannot merge into it: it is not valid TOML (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const lines = theirs.replace(/\r\n/g, '\n').split('\n');
  const firstTable = lines.findIndex((line) => ANY_TABLE.test(line));
  const top = firstTable < 0 ? lines : lines.slice(0, firstTable);
  const tables: string[] = [];
  let skipping = false;
  for (const line of firstTable < 0 ? [] : lines.slice(firstTable)) {
    if (ANY_TABLE.test(line)) skipping = hostOfHeader(line) === spec.endpoint;
    if (!skipping) tables.push(line);
  }
  const text = [
    ...header(spec, true),
    ...trimBlank(top),
    '',
    ...hostTable(spec.endpoint),
    '',
    ...trimBlank(tables),
    '',
  ].join('\n');
  const hosts = Object.keys((parseToml(text) as { host?: Record<string, unknown> }).host ?? {});
  if (hosts[0] !== spec.endpoint) throw new Error(`merging put ${hosts[0]} before the peer`);
  return text;
}

function trimBlank(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && lines[start]!.trim() === '') start++;
  while (end > start && lines[end - 1]!.trim() === '') end--;
  return lines.slice(start, end);
}

export function hostsTomlPath(dir: string, registry: string): string {
  return join(dir, hostsDirName(registry), 'hosts.toml');
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
  const registry = hostsDirName(spec.registry);
  const file = hostsTomlPath(spec.dir, registry);
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const current = await readIfExists(file);
  const foreign = current !== undefined && !current.startsWith(MANAGED_MARKER);
  // Theirs: the file found now, or the original kept when an earlier run merged into it.
  const source = foreign ? file : `${file}${BACKUP_SUFFIX}`;
  const theirs = foreign ? current : current !== undefined ? await readIfExists(source) : undefined;
  let text: string;
  try {
    text =
      theirs === undefined
        ? renderHostsToml({ ...spec, registry })
        : mergeHostsToml(theirs, { ...spec, registry });
  } catch (error) {
    throw new Error(`${registry}: ${source}: ${(error as Error).message}`);
  }
  const change = await installManagedFile(file, text, MANAGED_MARKER);
  return { registry, ...change };
}

/** Undoes `installHostsToml`: restores the backup, else deletes the file (and its directory when empty). */
export async function removeHostsToml(dir: string, registryName: string): Promise<HostsChange> {
  const registry = hostsDirName(registryName);
  const change = await removeManagedFile(hostsTomlPath(dir, registry), MANAGED_MARKER, {
    removeEmptyDir: true,
  });
  return { registry, ...change };
}

/** One line for the user per change. */
export function describeChange(change: HostsChange): string {
  if (change.action === 'replaced') {
    // Not replaced: merged, the peer put first.
    return `${change.registry}: wrote ${change.file}: the peer first, then the hosts of the previous file (kept as ${change.backup})`;
  }
  return describeManagedChange(change.registry, change, 'shoal containerd-config');
}
