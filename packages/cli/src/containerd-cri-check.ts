import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseToml } from 'smol-toml';

/** The CRI plugin that pulls images, and where its registry settings live, per config version. */
const CRI_IMAGES = {
  /** containerd 1.x (config version 2) */
  v2: { plugin: 'io.containerd.grpc.v1.cri', table: '[plugins."io.containerd.grpc.v1.cri".registry]' },
  /** containerd 2.x (config version 3) */
  v3: { plugin: 'io.containerd.cri.v1.images', table: "[plugins.'io.containerd.cri.v1.images'.registry]" },
};

type Table = Record<string, unknown>;
const table = (value: unknown): Table =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Table) : {};

export type CriCheck = { ok: true; note?: string } | { ok: false; problem: string };

/**
 * Whether the CRI plugin of a containerd whose merged configuration is `dump` (`containerd config dump`)
 * reads hosts.toml files from `dir`: its registry `config_path` must list it. Pure.
 */
export function checkCriConfigPath(dump: string, dir: string): CriCheck {
  const config = table(parseToml(dump));
  const v3 = Number(config.version) >= 3;
  const cri = v3 ? CRI_IMAGES.v3 : CRI_IMAGES.v2;
  const disabled = Array.isArray(config.disabled_plugins) ? config.disabled_plugins : [];
  if (disabled.includes(cri.plugin) || disabled.includes('io.containerd.grpc.v1.cri')) {
    return {
      ok: true,
      note: `containerd's CRI plugin is disabled; only ctr --hosts-dir ${dir} reads the files`,
    };
  }
  const plugin = table(table(config.plugins)[cri.plugin]);
  const registry = table(plugin.registry);
  const configPath = typeof registry.config_path === 'string' ? registry.config_path : '';
  const fix = `set, and restart containerd:\n  ${cri.table}\n    config_path = "${dir}"`;
  const listed = configPath.split(':').filter(Boolean);
  if (!listed.map((p) => resolve(p)).includes(resolve(dir))) {
    const now = configPath === '' ? 'is not set' : `is "${configPath}"`;
    return {
      ok: false,
      problem: `containerd's CRI plugin does not read ${dir}: its registry config_path ${now}, so the kubelet's pulls would bypass shoal. In containerd's config.toml, ${fix}`,
    };
  }
  if (v3 && listed.length > 1 && plugin.use_local_image_pull !== true) {
    // containerd 2.1+ pulls through its transfer service, which takes config_path as one directory.
    return {
      ok: false,
      problem: `containerd 2.1+ pulls CRI images through its transfer service, which reads config_path ("${configPath}") as one directory, not a list: mirrors would be ignored. In containerd's config.toml, ${fix}\n(or set use_local_image_pull = true in [plugins.'io.containerd.cri.v1.images'])`,
    };
  }
  return { ok: true };
}

/**
 * Runs `containerd config dump` for `configFile` (containerd's defaults when the file does not exist,
 * as containerd itself does) and checks it. Unchecked, with a note, where containerd is not installed.
 */
export async function checkContainerdReadsHosts(configFile: string, dir: string): Promise<CriCheck> {
  const args = existsSync(configFile) ? ['--config', configFile, 'config', 'dump'] : ['config', 'default'];
  let dump: string;
  try {
    dump = (await promisify(execFile)('containerd', args, { timeout: 30_000, maxBuffer: 8 * 1024 * 1024 }))
      .stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { ok: true, note: 'containerd is not installed here: its config_path was not checked' };
    }
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return {
      ok: false,
      problem: `containerd ${args.join(' ')} failed: ${stderr || (error as Error).message}`,
    };
  }
  return checkCriConfigPath(dump, dir);
}
